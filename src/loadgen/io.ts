// The process side of the control protocol: JSON lines out on stdout, commands in on
// stdin, and one shutdown path shared by stdin EOF, {"cmd":"exit"} and signals.
import * as readline from 'node:readline';
import { formatEvent, monotonicMs, parseCommand, type LoadgenCommand, type LoadgenEvent } from './protocol';

export interface LoadgenIo {
  emit(event: LoadgenEvent): void;
  /** Registers the command handler and, unless disabled, starts reading stdin. */
  listen(onCommand: (command: LoadgenCommand) => void, onShutdown: () => void): void;
}

export function emitError(io: LoadgenIo, message: string): void {
  io.emit({ type: 'error', t: monotonicMs(), message });
}

export function processIo(readStdin: boolean): LoadgenIo {
  const emit = (event: LoadgenEvent): void => {
    process.stdout.write(formatEvent(event));
  };
  return {
    emit,
    listen(onCommand, onShutdown) {
      let shuttingDown = false;
      const shutdownOnce = (): void => {
        if (shuttingDown) return;
        shuttingDown = true;
        onShutdown();
      };
      process.once('SIGTERM', shutdownOnce);
      process.once('SIGINT', shutdownOnce);
      // A parent that dies without killing us closes our stdin: EOF is the orphan guard.
      if (!readStdin) return;
      const lines = readline.createInterface({ input: process.stdin, terminal: false });
      lines.on('line', (line) => {
        try {
          const command = parseCommand(line);
          if (command === undefined) return;
          emit({ type: 'ack', t: monotonicMs(), cmd: command.cmd });
          if (command.cmd === 'exit') shutdownOnce();
          else onCommand(command);
        } catch (error) {
          emit({ type: 'error', t: monotonicMs(), message: (error as Error).message });
        }
      });
      lines.on('close', shutdownOnce);
    },
  };
}
