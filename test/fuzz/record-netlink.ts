// Records what the kernel answers to every dump observe makes, in the two namespaces of
// the tc fixtures' tree (test/kernel/rtnl/fixtures/record.ts: a bridge, an IFB, a veth
// pair, HTB with classes, u32 hash filters, a mirred redirect, the BPF classifier, a
// clsact qdisc, addresses and a route), and one refusal with the kernel's extended ack:
// the netlink fuzz target's seeds (test/fuzz/corpus/netlink/recorded.json, hex).
// Root, under the kernel lock: `npx tsx test/fuzz/record-netlink.ts`. Makes and removes sl-kt-a/b.

import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import type { NetlinkChannel, NetlinkChannelFactory } from '../../src/kernel/netlink/channel';
import { nativeChannelFactory } from '../../src/kernel/netlink/nativeChannel';
import { NLM_F, RTM } from '../../src/kernel/rtnl/constants';
import { frame, tcBody } from '../../src/kernel/rtnl/messages';
import { dumpNamespace } from '../../src/kernel/rtnl/observe';
import { allocSeq } from '../../src/kernel/rtnl/session';
import { makeHandle } from '../../src/tc/handle';
import { A, B, runRecorder, withTestTree } from '../kernel/rtnl/fixture';
import { recordedState } from '../kernel/rtnl/fixtures/record';
import { requestKey, type RecordedNetlink } from './targets/netlink';

/** The real channels, each request's answers kept by what it asked (the last time it was asked). */
function recording(into: Record<string, Record<string, string[]>>): NetlinkChannelFactory {
  return {
    async open(ns) {
      const channel = await nativeChannelFactory.open(ns);
      const recorded: NetlinkChannel = {
        netns: channel.netns,
        exchange: async (messages, seqs) => {
          const replies = await channel.exchange(messages, seqs);
          for (const m of messages) {
            const seq = m.readUInt32LE(8);
            (into[ns] ??= {})[requestKey(m)] = replies.filter((r) => r.readUInt32LE(8) === seq).map((r) => r.toString('hex'));
          }
          return replies;
        },
        close: () => channel.close(),
      };
      return recorded;
    },
  };
}

async function main(): Promise<void> {
  const answers: Record<string, Record<string, string[]>> = {};
  await withTestTree(recordedState(), async (kernel) => {
    // Only what observe asks, not what applying the tree asked.
    for (const ns of [A, B]) answers[ns] = {};
    for (const ns of [A, B]) await dumpNamespace(ns, await kernel.session(ns), true, true);
    // A refusal with the kernel's text: a qdisc under a class that does not exist.
    const seq = allocSeq();
    const request = frame(RTM.NEWQDISC, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq, tcBody({ ifindex: 1, handle: makeHandle(0x77, 0), parent: makeHandle(0x1234, 1), info: 0 }, 'pfifo'));
    const [error] = await (await kernel.session(A)).channel.exchange([request], [seq]);
    delete answers[A]![requestKey(request)];
    const recorded: RecordedNetlink = { kernel: release(), namespaces: answers, error: error!.toString('hex') };
    writeFileSync(join(__dirname, 'corpus', 'netlink', 'recorded.json'), `${JSON.stringify(recorded, null, 1)}\n`);
    console.log(`recorded ${Object.values(answers).reduce((n, d) => n + Object.values(d).flat().length, 0)} answers`);
  }, recording(answers));
}

runRecorder(main);
