// bench/native: the addon's batched netlink exchange against `ip -batch` of the identical
// requests (250 address adds then 250 deletes on lo in a throwaway namespace), side by
// side in one run, plus raw ack throughput (20,000 RTM_GETLINK+ACK). Needs root.
//   npx tsx bench/native.ts
import { execFileSync } from 'node:child_process';
import { createNetns, deleteNetns } from '../src/kernel/native';
import { nativeChannelFactory } from '../src/kernel/netlink/nativeChannel';
import { exitUnlessRunnable } from './args';

exitUnlessRunnable({
  name: 'native',
  usage: `bench/native: the addon's batched netlink exchange against \`ip -batch\` of the same requests, and raw ack throughput
  flock /run/sluice-dev.lock npx tsx bench/native.ts   (root; a throwaway namespace: under the lock)
  --help  this text`,
});

const NETNS = 'sl-na-bench';
const ROUNDS = 10;
const ADDRESSES = Array.from({ length: 250 }, (_, i) => `198.18.10.${i + 1}`);
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;

let seq = 1;

function request(type: number, flags: number, body: Buffer): Buffer {
  const message = Buffer.alloc(16 + body.length);
  message.writeUInt32LE(message.length, 0);
  message.writeUInt16LE(type, 4);
  message.writeUInt16LE(flags | NLM_F_REQUEST | NLM_F_ACK, 6);
  message.writeUInt32LE(seq++, 8);
  body.copy(message, 16);
  return message;
}

function addressBody(address: string): Buffer {
  const body = Buffer.alloc(8 + 16);
  body.writeUInt8(2, 0); // AF_INET
  body.writeUInt8(32, 1);
  body.writeUInt32LE(1, 4); // lo
  const bytes = Buffer.from(address.split('.').map(Number));
  for (const [offset, type] of [[8, 2], [16, 1]] as const) {
    body.writeUInt16LE(8, offset);
    body.writeUInt16LE(type, offset + 2);
    bytes.copy(body, offset + 4);
  }
  return body;
}

const seqsOf = (messages: readonly Buffer[]): number[] => messages.map((m) => m.readUInt32LE(8));

async function timeNative(): Promise<number> {
  const channel = await nativeChannelFactory.open(NETNS);
  try {
    const start = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      const adds = ADDRESSES.map((a) => request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, addressBody(a)));
      await channel.exchange(adds, seqsOf(adds));
      const dels = ADDRESSES.map((a) => request(RTM_DELADDR, 0, addressBody(a)));
      await channel.exchange(dels, seqsOf(dels));
    }
    return performance.now() - start;
  } finally {
    channel.close();
  }
}

function timeIpBatch(): number {
  const adds = ADDRESSES.map((a) => `address add ${a}/32 dev lo`).join('\n') + '\n';
  const dels = ADDRESSES.map((a) => `address del ${a}/32 dev lo`).join('\n') + '\n';
  const start = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    execFileSync('ip', ['-n', NETNS, '-batch', '-'], { input: adds });
    execFileSync('ip', ['-n', NETNS, '-batch', '-'], { input: dels });
  }
  return performance.now() - start;
}

async function timeAcks(count: number): Promise<number> {
  const channel = await nativeChannelFactory.open(NETNS);
  try {
    const body = Buffer.alloc(16);
    body.writeInt32LE(1, 4);
    const messages = Array.from({ length: count }, () => request(RTM_GETLINK, 0, body));
    const start = performance.now();
    const answers = await channel.exchange(messages, seqsOf(messages));
    const elapsed = performance.now() - start;
    if (answers.length !== 2 * count) throw new Error(`expected ${2 * count} answers, got ${answers.length}`);
    return elapsed;
  } finally {
    channel.close();
  }
}

async function main(): Promise<void> {
  createNetns(NETNS);
  try {
    const ops = ROUNDS * ADDRESSES.length * 2;
    const nativeMs = await timeNative();
    const ipMs = timeIpBatch();
    const acksMs = await timeAcks(20000);
    process.stdout.write(
      JSON.stringify({
        addressOps: ops,
        nativeExchangeMs: Math.round(nativeMs),
        ipBatchMs: Math.round(ipMs),
        ipBatchOverNative: Number((ipMs / nativeMs).toFixed(2)),
        getlinkWithAck20000Ms: Math.round(acksMs),
      }) + '\n',
    );
  } finally {
    deleteNetns(NETNS);
  }
}

void main();
