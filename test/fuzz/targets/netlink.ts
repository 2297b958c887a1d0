// Netlink decoders fed mutated recorded kernel bytes: the answers a real kernel gave to
// every dump observe makes (corpus/netlink/recorded.json, from record-netlink.ts) with
// messages mutated (bits, fields, lengths, cut, extended), duplicated, dropped, grafted
// from another dump under this dump's type, or replaced by the recorded refusal. They go
// through what the native channel does (split by nlmsg_len), the namespace session and
// observe (links, addresses, routes, qdiscs, classes with counters, filters), and the
// per-tick counter refresh. A typed error must name the message or attribute; a decoder's
// refusal (TcDecodeError) its object and kind; anything else thrown is a crash.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../../src/errors';
import type { NetlinkChannel } from '../../../src/kernel/netlink/channel';
import { splitAnswers } from '../../../src/kernel/netlink/nativeChannel';
import { NLMSG, RTM } from '../../../src/kernel/rtnl/constants';
import { frame } from '../../../src/kernel/rtnl/messages';
import { classKeyIndex, dumpNamespace, linkObjects, refreshClassStats } from '../../../src/kernel/rtnl/observe';
import { NetnsSession } from '../../../src/kernel/rtnl/session';
import { regressionInputs, type CaseResult, type FuzzTarget } from '../harness';
import { mutateBytes, type Rng } from '../mutate';
import { CORPUS } from './common';

export interface RecordedNetlink {
  readonly kernel: string;
  /** Per namespace, per request (requestKey), the answers as hex. */
  readonly namespaces: Record<string, Record<string, string[]>>;
  /** An NLMSG_ERROR with the kernel's extended ack. */
  readonly error: string;
}

export interface NetlinkInput {
  readonly netns: string;
  /** The answers to give, per request key, as hex. */
  readonly answers: Readonly<Record<string, readonly string[]>>;
}

const NLMSG_HDRLEN = 16;
const ANSWER_TYPE: Readonly<Record<string, number>> = { link: RTM.NEWLINK, addr: RTM.NEWADDR, route: RTM.NEWROUTE, qdisc: RTM.NEWQDISC, class: RTM.NEWTCLASS, filter: RTM.NEWTFILTER };

/** What a dump request asks for: one key per dump (per device and parent for tc). */
export function requestKey(m: Buffer): string {
  const type = m.readUInt16LE(4);
  const body = NLMSG_HDRLEN;
  switch (type) {
    case RTM.GETLINK:
      return 'link';
    case RTM.GETADDR:
      return 'addr';
    case RTM.GETROUTE:
      return 'route';
    case RTM.GETQDISC:
      return 'qdisc';
    case RTM.GETTCLASS:
      return `class:${m.readInt32LE(body + 4)}`;
    case RTM.GETTFILTER:
      return `filter:${m.readInt32LE(body + 4)}:${m.readUInt32LE(body + 12)}`;
    default:
      return `type:${type}`;
  }
}

/** The recorded answers, given back to whatever asks the same, as the native channel would pass them on. */
class ReplayChannel implements NetlinkChannel {
  constructor(
    readonly netns: string,
    private readonly answers: Readonly<Record<string, readonly string[]>>,
  ) {}

  async exchange(messages: readonly Buffer[], seqs: readonly number[]): Promise<Buffer[]> {
    const chunks: Buffer[] = [];
    messages.forEach((m, i) => {
      const seq = seqs[i] ?? m.readUInt32LE(8);
      for (const hex of this.answers[requestKey(m)] ?? []) {
        const answer = Buffer.from(hex, 'hex');
        // The kernel answers with the request's sequence number (recorded under another).
        if (answer.length >= 12) answer.writeUInt32LE(seq, 8);
        chunks.push(answer, Buffer.alloc((4 - (answer.length % 4)) % 4));
      }
      const done = frame(NLMSG.DONE, 0, seq, Buffer.alloc(4));
      chunks.push(done);
    });
    return splitAnswers([Buffer.concat(chunks)]);
  }

  close(): void {}
}

function recorded(): RecordedNetlink {
  return JSON.parse(readFileSync(join(CORPUS, 'netlink', 'recorded.json'), 'utf8')) as RecordedNetlink;
}

const withType = (hex: string, type: number): string => {
  const b = Buffer.from(hex, 'hex');
  if (b.length >= 6) b.writeUInt16LE(type, 4);
  return b.toString('hex');
};

/** A typed error from reading the kernel must say which message or attribute it could not read. */
const NAMES_WHAT = /RTM_|IFLA_|IFA_|RTA_|TCA_|NLMSG|netlink|errno|dump/;

export function netlinkTarget(): FuzzTarget<NetlinkInput> {
  let error = '';
  return {
    name: 'netlink',
    describe: 'netlink decoders: recorded kernel answers to every dump observe makes, mutated → split as the native channel does → session → observe (links, addresses, routes, qdiscs, classes + counters, filters) and the counter refresh',
    seeds() {
      const r = recorded();
      error = r.error;
      return [...Object.entries(r.namespaces).map(([netns, answers]) => ({ netns, answers })), ...(regressionInputs('netlink') as NetlinkInput[])];
    },
    generate(rng: Rng, seeds) {
      const base = rng.pick(seeds);
      const answers: Record<string, string[]> = Object.fromEntries(Object.entries(base.answers).map(([k, v]) => [k, [...v]]));
      const keys = Object.keys(answers);
      for (let n = 1 + rng.int(3); n > 0; n--) {
        const key = rng.pick(keys);
        const list = answers[key]!;
        const i = rng.int(Math.max(list.length, 1));
        const op = rng.int(12);
        if (op < 7 && list.length > 0) list[i] = mutateBytes(Buffer.from(list[i]!, 'hex'), rng).toString('hex');
        else if (op < 8 && list.length > 0) list.splice(i, 0, list[i]!);
        else if (op < 9 && list.length > 0) list.splice(i, 1);
        else if (op < 11) {
          // Another dump's message under this dump's answer type: the decoder meets a layout it did not expect.
          const from = answers[rng.pick(keys)]!;
          const type = ANSWER_TYPE[key.split(':')[0]!];
          if (from.length > 0 && type !== undefined) list.splice(i, 0, mutateBytes(Buffer.from(withType(rng.pick(from), type), 'hex'), rng).toString('hex'));
        } else answers[key] = [error];
      }
      return { netns: base.netns, answers };
    },
    async run(input): Promise<CaseResult> {
      const session = new NetnsSession(new ReplayChannel(input.netns, input.answers));
      try {
        const dump = await dumpNamespace(input.netns, session, true, true);
        linkObjects([dump]);
        await refreshClassStats(dump, session, classKeyIndex(dump));
        for (const p of dump.problems) if (!p.message.includes(p.kind) || !p.message.includes(p.object)) return { failure: 'unlocated', detail: p.message };
        return { outcome: dump.problems.length > 0 ? 'read, some objects foreign' : 'read' };
      } catch (e) {
        if (e instanceof SluiceError) return NAMES_WHAT.test(e.message) ? { outcome: `refused: ${e.code}` } : { failure: 'unlocated', detail: e.message };
        return { failure: 'crash', detail: (e as Error).stack ?? String(e) };
      }
    },
    toJson: (input) => input,
    fromJson: (json) => json as NetlinkInput,
  };
}
