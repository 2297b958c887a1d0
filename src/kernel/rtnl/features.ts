// What this kernel can do, found by trying it in a throwaway namespace (module
// autoloading makes reading /proc unreliable): leaf qdisc kinds and cls_bpf.

import type { KernelFeatures } from '../../tc/features';
import { makeHandle, TC_H_ROOT } from '../../tc/handle';
import type { QdiscKind } from '../../tc/model';
import * as native from '../native';
import { LOOPBACK_IFINDEX, NLM_F, RTM } from './constants';
import { filterInfo, frame, linkChangeBody, tcBody } from './messages';
import { RtnlKernel } from './port';
import { allocSeq } from './session';
import { encodeFilterOptions, encodeQdiscOptions } from './tc';

const LEAF_CANDIDATES: readonly QdiscKind[] = ['fq_codel', 'sfq', 'pfifo'];
let cached: KernelFeatures | undefined;

export async function detectFeatures(): Promise<KernelFeatures> {
  if (cached) return cached;
  const ns = `sl-probe-${process.pid}`;
  native.createNetns(ns);
  const kernel = new RtnlKernel();
  try {
    const session = await kernel.session(ns);
    const ack = async (msg: Buffer, seq: number): Promise<boolean> => (await session.batch([msg], [seq])).get(seq)?.errno === 0;
    let seq = allocSeq();
    await ack(frame(RTM.NEWLINK, NLM_F.ACK, seq, linkChangeBody({ index: LOOPBACK_IFINDEX, up: true })), seq);
    const leafQdiscs: QdiscKind[] = [];
    for (const kind of LEAF_CANDIDATES) {
      const spec = kind === 'sfq' ? { kind, perturbSec: 10 } : kind === 'pfifo' ? { kind, limitPackets: 100 } : { kind };
      const { kind: k, options } = encodeQdiscOptions(spec as never);
      seq = allocSeq();
      const h = { ifindex: LOOPBACK_IFINDEX, handle: makeHandle(0x10, 0), parent: TC_H_ROOT, info: 0 };
      if (await ack(frame(RTM.NEWQDISC, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq, tcBody(h, k, options)), seq)) {
        leafQdiscs.push(kind);
        seq = allocSeq();
        await ack(frame(RTM.DELQDISC, NLM_F.ACK, seq, tcBody(h, undefined)), seq);
      }
    }
    seq = allocSeq();
    const root = { ifindex: LOOPBACK_IFINDEX, handle: makeHandle(1, 0), parent: TC_H_ROOT, info: 0 };
    const htb = encodeQdiscOptions({ kind: 'htb', defaultMinor: 1, r2q: 10 });
    await ack(frame(RTM.NEWQDISC, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq, tcBody(root, htb.kind, htb.options)), seq);
    let clsBpf = false;
    let program: native.BpfProgram | undefined;
    try {
      program = native.loadNetclsClassidProgram();
      const loaded = program;
      const bpf = encodeFilterOptions({ kind: 'bpf', program: 'netcls-classid', directAction: false }, 1, { ifindexOf: () => LOOPBACK_IFINDEX, bpfProgram: () => loaded });
      seq = allocSeq();
      clsBpf = await ack(frame(RTM.NEWTFILTER, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, seq, tcBody({ ifindex: LOOPBACK_IFINDEX, handle: 1, parent: makeHandle(1, 0), info: filterInfo(1, 0x0003) }, bpf.kind, bpf.options)), seq);
    } catch {
      clsBpf = false;
    } finally {
      if (program) native.closeFd(program.fd);
    }
    cached = { leafQdiscs, clsBpf };
    return cached;
  } finally {
    await kernel.close();
    native.deleteNetns(ns);
  }
}
