import { describe, expect, it } from 'vitest';
import { KernelError } from '../../../src/errors';
import type { NetlinkChannel } from '../../../src/kernel/netlink/channel';
import { NLMSG, RTM } from '../../../src/kernel/rtnl/constants';
import { frame } from '../../../src/kernel/rtnl/messages';
import { groupDumpAnswers, NetnsSession } from '../../../src/kernel/rtnl/session';

const ENODEV = 19;
const EBUSY = 16;

/** An answer of type `type` to `seq`, carrying `tag` so that it can be told apart. */
const answer = (type: number, seq: number, tag = 0): Buffer => {
  const body = Buffer.alloc(4);
  body.writeUInt32LE(tag);
  return frame(type, 0, seq, body);
};
/** NLMSG_ERROR with -errno (0: an ack). */
const error = (seq: number, errno: number): Buffer => {
  const body = Buffer.alloc(4 + 16);
  body.writeInt32LE(-errno);
  return frame(NLMSG.ERROR, 0, seq, body);
};
const tag = (b: Buffer): number => b.readUInt32LE(16);

describe('dump answers grouped by sequence number', () => {
  const asked = [
    { type: RTM.GETTCLASS, seq: 7 },
    { type: RTM.GETTFILTER, seq: 8 },
    { type: RTM.GETTFILTER, seq: 9 },
    { type: RTM.GETLINK, seq: 10 },
  ];

  it('gives each request its own answers of its own type, in arrival order, whatever the interleaving', () => {
    const replies = [
      answer(RTM.NEWTCLASS, 7, 1),
      answer(RTM.NEWTFILTER, 9, 2),
      answer(RTM.NEWTCLASS, 7, 3),
      answer(NLMSG.DONE, 7),
      answer(RTM.NEWTFILTER, 8, 4),
      // Another request's answer type, another exchange's seq: not this request's.
      answer(RTM.NEWTCLASS, 8, 5),
      answer(RTM.NEWTFILTER, 99, 6),
      answer(NLMSG.DONE, 8),
      answer(RTM.NEWTFILTER, 9, 7),
      answer(NLMSG.DONE, 9),
      answer(NLMSG.DONE, 10),
    ];
    const grouped = groupDumpAnswers(replies, asked);
    expect(grouped.map((g) => ('replies' in g ? g.replies.map(tag) : g))).toEqual([[1, 3], [4], [2, 7], []]);
  });

  it('keeps a refusal to its own request (a device deleted meanwhile: ENODEV); an ack is none', () => {
    const replies = [answer(RTM.NEWTCLASS, 7, 1), answer(NLMSG.DONE, 7), error(8, ENODEV), error(9, 0), answer(RTM.NEWTFILTER, 9, 2), answer(RTM.NEWLINK, 10, 3), error(10, EBUSY)];
    const grouped = groupDumpAnswers(replies, asked);
    expect(grouped[0]).toEqual({ replies: [replies[0]] });
    expect(grouped[1]).toEqual({ refusal: { errno: ENODEV } });
    // The first NLMSG_ERROR decides, as for one dump alone.
    expect(grouped[2]).toEqual({ replies: [replies[4]] });
    expect(grouped[3]).toEqual({ refusal: { errno: EBUSY } });
  });
});

describe('NetnsSession.dumps', () => {
  const channel = (answers: (messages: readonly Buffer[]) => Buffer[]): NetlinkChannel & { exchanges: number } => {
    const c = {
      netns: 'sl-test',
      exchanges: 0,
      exchange: (messages: readonly Buffer[]) => {
        c.exchanges++;
        return Promise.resolve(answers(messages));
      },
      close: () => undefined,
    };
    return c;
  };
  const seqOf = (m: Buffer): number => m.readUInt32LE(8);

  it('sends every request in one exchange and returns the answers in request order', async () => {
    const c = channel((messages) => messages.flatMap((m, i) => [answer(m.readUInt16LE(4) - 2, seqOf(m), i), answer(NLMSG.DONE, seqOf(m))]).reverse());
    const session = new NetnsSession(c);
    const replies = await session.dumps([
      { type: RTM.GETTCLASS, body: Buffer.alloc(20) },
      { type: RTM.GETTFILTER, body: Buffer.alloc(20) },
    ]);
    expect(replies.map((r) => r.map(tag))).toEqual([[0], [1]]);
    expect(c.exchanges).toBe(1);
    expect(await session.dumps([])).toEqual([]);
    expect(c.exchanges).toBe(1);
  });

  it('rejects with the first refused request in request order, naming what it read', async () => {
    const c = channel((messages) => messages.map((m, i) => (i === 0 ? answer(NLMSG.DONE, seqOf(m)) : error(seqOf(m), i === 1 ? ENODEV : EBUSY))).reverse());
    const session = new NetnsSession(c);
    const rejected = session.dumps([
      { type: RTM.GETTCLASS, body: Buffer.alloc(20) },
      { type: RTM.GETTFILTER, body: Buffer.alloc(20) },
      { type: RTM.GETTCLASS, body: Buffer.alloc(20) },
    ]);
    await expect(rejected).rejects.toBeInstanceOf(KernelError);
    await expect(rejected).rejects.toMatchObject({ errno: ENODEV, code: 'ENODEV', object: 'filters (RTM_GETTFILTER)', netns: 'sl-test' });
  });
});
