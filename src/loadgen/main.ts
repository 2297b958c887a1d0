// Entry of Sluice's TCP load generator: `serve` counts what arrives, `send` writes as
// fast as TCP allows. Run inside a namespace with `nsenter --net=/run/netns/<ns> node ...`;
// src/loadgen/driver.ts does that for a parent process.
import { processIo } from './io';
import { parseArgs, UsageError, type LoadgenOptions } from './protocol';
import { runSender } from './send';
import { runServer } from './serve';
import { runEcho, runPing } from './ping';

function run(options: LoadgenOptions): Promise<number> {
  const io = processIo(options.readStdin);
  switch (options.mode) {
    case 'serve':
      return runServer(options, io);
    case 'send':
      return runSender(options, io);
    case 'echo':
      return runEcho(options, io);
    case 'ping':
      return runPing(options, io);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: LoadgenOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  return run(options);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Flush stdout before leaving so the parent sees the final sample lines.
      process.stdout.write('', () => process.exit(code));
    },
    (error: unknown) => {
      process.stderr.write(`loadgen: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
