// Traffic between two containers on a bridge whose ports stay switched (a dual-stack Host
// here; a runtime's bridge in test/cni/sameBridge.kernel.test.ts): each port's ingress hook
// sends it through the IFB first, so the sender's upload class shapes it, over IPv4 and
// IPv6 alike (issue #23). The ceilings are the policy's as written, never read from compiled
// classes: a → b is held by a's upload ceiling (25), b → a by b's (40); the receiver's
// download class is not on this path (docs/decisions.md, "Traffic between two containers on
// the same bridge"). One flow at a time, goodput at most the ceiling and at least 90% of it.
// A second plan has nothing to change. Negative control: the same sandbox without the port
// hooks runs a → b far above a's ceiling; applying the policy again puts back exactly the
// hooks. Traffic to the bridge itself passes a's class once (the port lets it by, the bridge's
// own ingress sends it to the IFB). Runtime budget: ≤ 30 s (one sandbox, five 3 s flows).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PlannedChange } from '../../src/apply/applier';
import type { CompiledPolicy } from '../../src/compile';
import type { DemoDeps } from '../../src/demo/run';
import { peerState } from '../../src/demo/peer';
import type { RtnlKernel } from '../../src/kernel/rtnl/port';
import type { KernelObject, KernelState } from '../../src/tc/model';
import { closeSandbox, dualStackPolicy, openSandbox } from '../support/dualStack';
import { describeKernel, removeNamespaces } from '../support/kernel';
import { flowBetween, type FlowEnd } from '../support/sameBridge';

const PREFIX = 'swp-';
const A_CEILING = 25;
const B_CEILING = 40;
const { policy } = dualStackPolicy(PREFIX, [
  { name: 'a', octet: 10, rates: `{ guarantee: 10mbit, ceiling: ${A_CEILING}mbit }` },
  { name: 'b', octet: 11, rates: `{ guarantee: 10mbit, ceiling: ${B_CEILING}mbit }` },
]);

/** Goodput is below the wire rate HTB counts (headers): alone, a flow gets ≥ 90% of its ceiling. */
const SHAPED_FLOOR = 0.9;
const FLOW_S = 3;

/** One flow from one container to the other over one family, alone: goodput in Mbit/s. */
function flow(compiled: CompiledPolicy, from: string, to: string, family: 4 | 6): Promise<number> {
  const end = (name: string): FlowEnd => {
    const c = compiled.containers.find((x) => x.name === name)!;
    return { netns: c.netns!, address: family === 6 ? c.address6! : c.address! };
  };
  return flowBetween(end(from), end(to), FLOW_S);
}

/** A port hook: Sluice's ingress qdisc on a container's port, and its filters. */
const isPortHook = (o: KernelObject, ports: ReadonlySet<string>): boolean => (o.type === 'qdisc' || o.type === 'filter') && ports.has(o.dev) && (o.type === 'filter' || o.spec.kind === 'ingress');

describeKernel('switched ports: same-bridge traffic shaped by the sender\'s upload class', ['ip', 'nsenter'], () => {
  let deps: DemoDeps | undefined;
  let kernel: RtnlKernel | undefined;
  let compiled: CompiledPolicy;
  let ports: Set<string>;

  beforeAll(async () => {
    await removeNamespaces(`sl-${PREFIX}`);
    ({ deps, kernel, compiled } = await openSandbox(policy));
    ports = new Set(compiled.containers.map((c) => c.hostDev!));
  });

  afterAll(async () => {
    await closeSandbox(deps, kernel, policy);
    await removeNamespaces(`sl-${PREFIX}`);
  });

  it("a → b is held by a's upload ceiling over IPv6 and IPv4, b → a by b's; a second plan is empty", async () => {
    const { plan } = await deps!.applier.plan(policy, false, peerState(policy.host));
    expect(plan.map((op) => `${op.op} ${op.object.type}`)).toEqual([]);
    expect(compiled.state.qdiscs.filter((q) => isPortHook(q, ports))).toHaveLength(2);
    const measured = { aToB6: await flow(compiled, 'a', 'b', 6), aToB4: await flow(compiled, 'a', 'b', 4), bToA6: await flow(compiled, 'b', 'a', 6) };
    console.log(`switched ports, hooked: a → b ${measured.aToB6.toFixed(1)} (IPv6), ${measured.aToB4.toFixed(1)} (IPv4) Mbit/s (a's upload ceiling ${A_CEILING}); b → a ${measured.bToA6.toFixed(1)} (IPv6; b's ${B_CEILING})`);
    for (const aToB of [measured.aToB6, measured.aToB4]) {
      expect(aToB).toBeLessThanOrEqual(A_CEILING);
      expect(aToB).toBeGreaterThanOrEqual(SHAPED_FLOOR * A_CEILING);
    }
    expect(measured.bToA6).toBeLessThanOrEqual(B_CEILING);
    expect(measured.bToA6).toBeGreaterThanOrEqual(SHAPED_FLOOR * B_CEILING);
  }, 60_000);

  it("traffic to the bridge's own address passes a's class once: the port lets it by, the bridge's ingress sends it to the IFB", async () => {
    const a = compiled.containers.find((c) => c.name === 'a')!;
    const toGateway = await flowBetween({ netns: a.netns!, address: a.address6! }, { netns: policy.host.netns, address: policy.host.gateway6! }, FLOW_S);
    console.log(`switched ports: a → the bridge ${toGateway.toFixed(1)} Mbit/s (IPv6; a's upload ceiling ${A_CEILING}; counted twice it would get half)`);
    expect(toGateway).toBeLessThanOrEqual(A_CEILING);
    expect(toGateway).toBeGreaterThanOrEqual(SHAPED_FLOOR * A_CEILING);
  }, 30_000);

  it('without the port hooks (negative control) a → b runs far above the ceiling; the next apply puts back only the hooks', async () => {
    const unhooked = (p: PlannedChange): KernelState => ({
      ...p.compiled.state,
      qdiscs: p.compiled.state.qdiscs.filter((q) => !isPortHook(q, ports)),
      filters: p.compiled.state.filters.filter((f) => !isPortHook(f, ports)),
    });
    const control = await deps!.applier.apply(policy, false, unhooked);
    expect(control.report.failed).toBeUndefined();
    const open = await flow(compiled, 'a', 'b', 6);
    console.log(`switched ports, not hooked (negative control): a → b ${open.toFixed(1)} Mbit/s (IPv6)`);
    expect(open).toBeGreaterThan(2 * A_CEILING);
    const repaired = await deps!.applier.apply(policy);
    expect(repaired.report.failed).toBeUndefined();
    const hookOps = repaired.plan.filter((op) => isPortHook(op.object, ports));
    expect(hookOps.every((op) => op.op === 'create')).toBe(true);
    expect(hookOps.filter((op) => op.object.type === 'qdisc')).toHaveLength(2);
    expect(hookOps).toHaveLength(2 + 2 * 4);
  }, 60_000);
});
