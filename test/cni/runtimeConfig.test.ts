// What containerd's CRI plugin actually sends the chained plugin, and the pods the
// plugin must refuse at ADD (the reference bandwidth plugin refuses bad values too).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { annotationProblems } from '../../src/cni/annotations';
import { answer } from '../../src/cni/main';
import type { PluginDeps } from '../../src/cni/plugin';
import { CNI_ERROR, parseRequest, UNSET_BURST_BITS } from '../../src/cni/protocol';
import { AttachmentStore } from '../../src/cni/store';

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0' }, { name: 'veth1234' }, { name: 'eth0', sandbox: '/run/netns/pod' }],
  ips: [{ address: '198.18.32.5/24', gateway: '198.18.32.1', interface: 2 }],
};
const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee01', CNI_NETNS: '/run/netns/pod', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0' };
const conf = (runtimeConfig: Record<string, unknown>, dir = '/run/sluice/cni'): string => JSON.stringify({ cniVersion: '1.0.0', name: 'pods', type: 'sluice', stateDir: dir, prevResult, runtimeConfig });

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function deps(): PluginDeps {
  return {
    storeFor: (d) => new AttachmentStore(d),
    hostSide: async () => ({ hostVeth: 'veth1234', bridge: 'cni0' }),
    poke: async () => false,
    missingShaping: async () => [],
    now: () => 1_700_000_000_000,
  };
}

describe('runtimeConfig.bandwidth as containerd sends it', () => {
  it("reads containerd's capitalised keys (a Go struct without JSON tags); its burst of 2^32-1 bits is unset", () => {
    // Captured from Debian's containerd 1.6.20 for kubernetes.io/ingress-bandwidth: 150M, egress-bandwidth: 100M.
    const sent = { IngressRate: 150_000_000, IngressBurst: UNSET_BURST_BITS, EgressRate: 100_000_000, EgressBurst: UNSET_BURST_BITS };
    const request = parseRequest(env, conf({ bandwidth: sent }));
    expect(request.command === 'ADD' && request.conf.bandwidth).toEqual({ ingressRate: 150_000_000, egressRate: 100_000_000 });
  });

  it('one direction set: containerd sends the other as zeros, which is no limit', () => {
    const request = parseRequest(env, conf({ bandwidth: { IngressRate: 0, IngressBurst: 0, EgressRate: 100_000_000, EgressBurst: UNSET_BURST_BITS } }));
    expect(request.command === 'ADD' && request.conf.bandwidth).toEqual({ egressRate: 100_000_000 });
  });

  it('any case matches, an exact match first; a burst given is kept; a bad value names the key as sent', () => {
    const request = parseRequest(env, conf({ bandwidth: { ingressrate: 1, ingressRate: 20_000_000, INGRESSBURST: 800_000 } }));
    expect(request.command === 'ADD' && request.conf.bandwidth).toEqual({ ingressRate: 20_000_000, ingressBurst: 800_000 });
    expect(() => parseRequest(env, conf({ bandwidth: { EgressRate: 'fast' } }))).toThrow(/runtimeConfig\.bandwidth\.EgressRate is "fast"/);
  });
});

describe('ADD refuses what can never be valid', () => {
  it('a pod annotated sluice.dev/download-guarantee: lots fails ADD with the spec\'s invalid-config error, and nothing is recorded', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-cni-'));
    const reply = await answer(conf({ 'io.kubernetes.cri.pod-annotations': { 'sluice.dev/download-guarantee': 'lots', 'other.io/x': 'y' } }, dir), env, deps());
    expect(reply.code).toBe(1);
    expect(reply.output).toMatchObject({ code: CNI_ERROR.invalidConfig, msg: expect.stringContaining('pod shop/web-0: sluice.dev/download-guarantee "lots"') });
    expect(await new AttachmentStore(dir).list()).toEqual([]);
  });

  it('a valid pod is recorded with when it was added', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-cni-'));
    const reply = await answer(conf({ bandwidth: { IngressRate: 20_000_000 }, 'io.kubernetes.cri.pod-annotations': { 'sluice.dev/download-guarantee': '5mbit' } }, dir), env, deps());
    expect(reply.code).toBe(0);
    expect(await new AttachmentStore(dir).list()).toMatchObject([{ containerId: 'c0ffee01', addedAt: 1_700_000_000_000, bandwidth: { ingressRate: 20_000_000 } }]);
  });

  it('names every problem: unknown keys, units, priorities, a guarantee above its own ceiling', () => {
    expect(annotationProblems({ 'sluice.dev/download-guarantee': '5mbit', 'sluice.dev/upload-priority': '3', 'other.io/x': 'anything' }, undefined)).toEqual([]);
    expect(annotationProblems({
      'sluice.dev/speed': '1',
      'sluice.dev/upload-guarantee': '10mbps',
      'sluice.dev/upload-priority': '9',
      'sluice.dev/download-burst': 'big',
      'sluice.dev/download-ceiling': '0mbit',
    }, undefined)).toEqual([
      expect.stringContaining('unknown annotation sluice.dev/speed'),
      expect.stringContaining('sluice.dev/download-burst "big"'),
      expect.stringContaining('sluice.dev/download-ceiling "0mbit": a ceiling of 0'),
      expect.stringContaining('sluice.dev/upload-guarantee "10mbps": "mbps" is ambiguous'),
      expect.stringContaining('sluice.dev/upload-priority "9"'),
    ]);
    // The runtime's kubernetes.io/ingress-bandwidth is the ceiling when no sluice.dev/ one is given.
    expect(annotationProblems({ 'sluice.dev/download-guarantee': '30mbit' }, { ingressRate: 20_000_000 })).toEqual([expect.stringContaining('above the pod\'s ceiling (kubernetes.io/ingress-bandwidth: 20000000 bit/s)')]);
    expect(annotationProblems({ 'sluice.dev/download-guarantee': '30mbit', 'sluice.dev/download-ceiling': '40mbit' }, { ingressRate: 20_000_000 })).toEqual([]);
  });

  it("sluice.dev/group must be a group's name (whether the group exists is the node's question)", () => {
    expect(annotationProblems({ 'sluice.dev/group': 'tenant-a' }, undefined)).toEqual([]);
    expect(annotationProblems({ 'sluice.dev/group': 'Tenant A' }, undefined)).toEqual([expect.stringContaining('sluice.dev/group "Tenant A" is not a group\'s name')]);
  });
});
