#!/usr/bin/env node
'use strict';
// Anything reaching here escaped every command's own error handling: a bug. One line,
// the stack only with --debug.
const { EXIT } = require('../dist/cli/output.js');
require('../dist/cli/main.js').main(process.argv).catch((err) => {
  const message = err && err.message ? String(err.message).split('\n')[0] : String(err);
  const stack = process.argv.includes('--debug') && err && err.stack ? `\n${err.stack}` : ' (run with --debug for the stack)';
  process.stderr.write(`sluice: internal error: ${message}${stack}\n`);
  process.exit(EXIT.internal);
});
