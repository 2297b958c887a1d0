#!/usr/bin/env node
// The package's install script: builds the N-API addon in this directory with node-gyp,
// in a checkout (`npm ci`) and when the packed tarball is installed (`npm install -g`).
// Plain Node, no dependencies: it runs before anything else of the package is usable.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const env = { ...process.env };
// node-gyp needs the headers of the Node that will load the addon. Without a nodedir it
// downloads them from nodejs.org, which a machine that reaches only its package mirrors
// cannot. Debian's and NodeSource's nodejs and Node's own tarballs all install them beside
// the binary (<prefix>/include/node), so use those when the operator has not said otherwise.
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;

// npm puts a node-gyp on PATH for lifecycle scripts (a checkout's own devDependency
// first, else the one npm bundles).
const result = spawnSync('node-gyp', ['rebuild'], { cwd: __dirname, env, stdio: 'inherit' });
if (result.status !== 0) {
  const why = result.error ? `node-gyp could not run (${result.error.message})` : `node-gyp exited ${result.status ?? result.signal}`;
  process.stderr.write(
    `sluice: building the native addon failed: ${why}.\n` +
      '  It needs make, a C++17 compiler (g++) and python3, and the headers of this Node\n' +
      `  (looked for ${path.join(prefix, 'include', 'node')}; set npm_config_nodedir=<prefix> if they are elsewhere).\n` +
      '  On Debian: apt-get install g++ make python3, then install Sluice again.\n',
  );
  process.exit(1);
}
