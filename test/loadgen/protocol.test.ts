import { describe, expect, it, vi } from 'vitest';
import {
  decodeHeader,
  encodeHeader,
  formatEvent,
  parseArgs,
  parseCommand,
  parseEndpoint,
  parseEvent,
  UsageError,
} from '../../src/loadgen/protocol';
import { LOADGEN_ENTRY_ENV, loadgenCommandLine, netnsPath, resolveLoadgenEntry } from '../../src/loadgen/driver';

describe('loadgen protocol', () => {
  it('parses endpoints, IPv6 in brackets', () => {
    expect(parseEndpoint('198.18.40.2:5201')).toEqual({ host: '198.18.40.2', port: 5201 });
    expect(parseEndpoint('[fd00::2]:80')).toEqual({ host: 'fd00::2', port: 80 });
    expect(() => parseEndpoint('198.18.40.2')).toThrow(UsageError);
    expect(() => parseEndpoint('198.18.40.2:70000')).toThrow(/1\.\.65535/);
  });

  it('parses serve and send arguments with defaults', () => {
    expect(parseArgs(['serve', '--listen', '0.0.0.0:5201'])).toEqual({
      mode: 'serve',
      listen: { host: '0.0.0.0', port: 5201 },
      intervalMs: 100,
      readStdin: true,
    });
    expect(parseArgs(['send', '--to', '198.18.40.2:5201', '--id', 'web-1', '--duration', '2.5', '--bind', '198.18.40.1', '--paused'])).toMatchObject({
      mode: 'send',
      id: 'web-1',
      bind: '198.18.40.1',
      durationS: 2.5,
      paused: true,
      writeBytes: 1 << 17,
      flows: 1,
    });
    expect(parseArgs(['send', '--to', '198.18.40.2:5201', '--id', 'w', '--flows', '8'])).toMatchObject({ flows: 8 });
    expect(() => parseArgs(['send', '--to', '198.18.40.2:5201', '--id', 'w', '--flows', '1.5'])).toThrow(/whole number/);
  });

  it('parses echo and ping arguments', () => {
    expect(parseArgs(['echo', '--listen', '198.18.0.10:5400'])).toEqual({ mode: 'echo', listen: { host: '198.18.0.10', port: 5400 }, intervalMs: 100, readStdin: true });
    expect(parseArgs(['ping', '--to', '198.18.0.10:5400', '--id', 'p', '--interval', '10', '--paused'])).toEqual({
      mode: 'ping',
      to: { host: '198.18.0.10', port: 5400 },
      id: 'p',
      bind: undefined,
      paused: true,
      intervalMs: 10,
      readStdin: true,
    });
    const rtt = { type: 'rtt', t: 3, id: 'p', ms: 0.25 } as const;
    expect(parseEvent(formatEvent(rtt))).toEqual(rtt);
  });

  it('rejects bad arguments with the usage', () => {
    expect(() => parseArgs(['send', '--to', '1.2.3.4:1'])).toThrow(/--id is required/);
    expect(() => parseArgs(['send', '--to', '1.2.3.4:1', '--id', 'a b'])).toThrow(/must be 1-64/);
    expect(() => parseArgs(['serve', '--listen', '1.2.3.4:1', '--bogus'])).toThrow(/unknown argument/);
    expect(() => parseArgs(['serve', '--listen', '1.2.3.4:1', '--interval', '-1'])).toThrow(/positive/);
    expect(() => parseArgs(['fly'])).toThrow(/usage:/);
  });

  it('parses commands and reports unknown ones', () => {
    expect(parseCommand('{"cmd":"start"}')).toEqual({ cmd: 'start' });
    expect(parseCommand('  ')).toBeUndefined();
    expect(() => parseCommand('{"cmd":"jump"}')).toThrow(/unknown command/);
  });

  it('round-trips events and ignores foreign lines', () => {
    const sample = { type: 'sample', t: 12.5, id: 'a', bytes: 99 } as const;
    expect(parseEvent(formatEvent(sample))).toEqual(sample);
    expect(parseEvent('hello')).toBeUndefined();
    expect(parseEvent('{"type":"sample","t":1}')).toBeUndefined();
    const stopped = { type: 'stopped', t: 13, id: 'a', bytes: 1 << 17 } as const;
    expect(parseEvent(formatEvent(stopped))).toEqual(stopped);
    expect(parseEvent('{"type":"stopped","t":1,"id":"a"}')).toBeUndefined();
  });

  it('splits the header from the payload, whatever the chunking', () => {
    const header = encodeHeader('web-1');
    const stream = Buffer.concat([header, Buffer.alloc(10)]);
    expect(decodeHeader(stream.subarray(0, 5))).toBeUndefined();
    expect(decodeHeader(stream)).toEqual({ id: 'web-1', payloadBytes: 10 });
    expect(() => decodeHeader(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(/not a loadgen header/);
    expect(() => decodeHeader(Buffer.alloc(300, 0x41))).toThrow(/first 256 bytes/);
  });

  it('builds an nsenter argument array that works from the TS sources', () => {
    const argv = loadgenCommandLine('sl-lg-a', ['serve', '--listen', '0.0.0.0:1']);
    expect(argv.slice(0, 3)).toEqual(['nsenter', '--net=/run/netns/sl-lg-a', process.execPath]);
    // Not whatever the kernel project's global setup named, when a run includes that project.
    vi.stubEnv(LOADGEN_ENTRY_ENV, undefined);
    try {
      expect(resolveLoadgenEntry()).toEqual(['--import', expect.stringMatching(/^file:.*tsx/), expect.stringMatching(/src\/loadgen\/main\.ts$/)]);
    } finally {
      vi.unstubAllEnvs();
    }
    // The kernel tests' compiled entry, when it exists; the TS source when it does not (an emptied dist/).
    expect(resolveLoadgenEntry(undefined, __filename)).toEqual([__filename]);
    expect(resolveLoadgenEntry(undefined, '/nonexistent/main.js')[0]).toBe('--import');
    expect(netnsPath('/proc/1/ns/net')).toBe('/proc/1/ns/net');
    expect(() => netnsPath('../etc')).toThrow(/characters/);
  });
});
