// Which batches the native channel runs in line (on the JS thread) rather than on the pool:
// small ones without a dump, whose answers rtnetlink queues inside sendmsg.
import { describe, expect, it } from 'vitest';
import { IN_LINE_MAX_BYTES, runsInLine } from '../../../src/kernel/netlink/nativeChannel';
import { NLM_F } from '../../../src/kernel/rtnl/constants';

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWQDISC = 36;
const RTM_GETTCLASS = 42;

function message(type: number, flags: number, bytes = 32): Buffer {
  const m = Buffer.alloc(bytes);
  m.writeUInt32LE(bytes, 0);
  m.writeUInt16LE(type, 4);
  m.writeUInt16LE(flags, 6);
  return m;
}

describe('runsInLine', () => {
  it('takes a small batch of changes and single GETs', () => {
    expect(runsInLine([message(RTM_NEWQDISC, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL), message(RTM_GETLINK, NLM_F.REQUEST | NLM_F.ACK)])).toBe(true);
    expect(runsInLine([])).toBe(true);
  });

  it('leaves a batch with a dump to the pool, but not a change whose flags share the dump bits', () => {
    expect(runsInLine([message(RTM_NEWQDISC, NLM_F.REQUEST | NLM_F.ACK), message(RTM_GETTCLASS, NLM_F.REQUEST | NLM_F.DUMP)])).toBe(false);
    // REPLACE|EXCL are the DUMP bits on a NEW type: still a change.
    expect(runsInLine([message(RTM_NEWLINK, NLM_F.REQUEST | NLM_F.ACK | NLM_F.REPLACE | NLM_F.EXCL)])).toBe(true);
  });

  it('leaves a batch over the size to the pool', () => {
    const n = Math.floor(IN_LINE_MAX_BYTES / 64);
    expect(runsInLine(Array.from({ length: n }, () => message(RTM_NEWQDISC, NLM_F.REQUEST | NLM_F.ACK, 64)))).toBe(true);
    expect(runsInLine(Array.from({ length: n + 1 }, () => message(RTM_NEWQDISC, NLM_F.REQUEST | NLM_F.ACK, 64)))).toBe(false);
  });
});
