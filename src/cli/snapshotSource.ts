// Where `status` and `top` get per-container traffic: the daemon's snapshot when `serve`
// answers on its socket, else the kernel read directly (rates from successive reads).

import type { Container } from 'inversify';
import { openRuntime, type Runtime } from '../wiring/runtime';
import { TOKENS } from '../wiring/tokens';
import { requestControl } from '../daemon/control';
import type { Policy } from '../policy/model';
import { RateEstimator, snapshot, type TrafficSnapshot } from '../traffic/snapshot';
import type { UnshapedWorkload } from '../sources/source';

export interface SourcedSnapshot {
  readonly snap: TrafficSnapshot;
  /** "daemon (<socket>)" or "kernel (no daemon)". */
  readonly via: string;
  readonly fromDaemon: boolean;
  /** The daemon's workloads found and not shaped (absent when read from the kernel). */
  readonly unshaped?: readonly UnshapedWorkload[];
}

export class SnapshotSource {
  private runtime: Runtime | undefined;
  private readonly rates: RateEstimator;

  private readonly socket: string;

  constructor(
    private readonly container: Container,
    private readonly policy: Policy,
    private readonly action: string,
    rateHalfLifeMs: number,
  ) {
    this.rates = new RateEstimator(rateHalfLifeMs);
    this.socket = container.get<string>(TOKENS.ControlSocket);
  }

  async next(): Promise<SourcedSnapshot> {
    try {
      const answer = await requestControl<{ snapshot?: TrafficSnapshot; unshaped?: readonly UnshapedWorkload[] }>(this.socket, { cmd: 'status' }, 1000);
      if (answer.snapshot) return { snap: answer.snapshot, via: `daemon (${this.socket})`, fromDaemon: true, ...(answer.unshaped ? { unshaped: answer.unshaped } : {}) };
    } catch {
      // No daemon running: read the kernel ourselves.
    }
    this.runtime ??= await openRuntime(this.container, this.action);
    const planned = await this.runtime.applier.plan(this.policy, true);
    return { snap: snapshot(planned.compiled, planned.observed, this.policy.host, this.rates, performance.now()), via: 'kernel (no daemon)', fromDaemon: false };
  }

  async close(): Promise<void> {
    await this.runtime?.close();
  }
}
