// A policy naming an existing device of another kind as its bridge (lo, a stranger's veth,
// IFB or tap in the sandbox host Sluice made) is refused by `plan` and `apply` before any
// change, naming the device and what to write instead; nothing in the namespace or the
// ownership record changes. Before, the plan listed "- delete link <dev>" and apply ran
// a dozen operations before the kernel refused the delete. The real host's eth0 is the
// tap's case (a device with no kind Sluice makes); its unit test is in
// test/apply/ownership.test.ts. Runtime: ~25 s, most of it building dist/ and the first apply.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/output';
import { cliTestbed, json, sluice } from '../support/cli';
import { describeKernel, sh } from '../support/kernel';

const HOST_NS = 'sl-fb-host';
const RECORD = '/run/sluice/owned-fb-demo.json';

/** The strangers' devices, made beside Sluice's in its sandbox host. */
const DEVICES: readonly { readonly name: string; readonly kind: string; readonly make: readonly string[] }[] = [
  { name: 'fbv0', kind: 'veth', make: ['ip', '-n', HOST_NS, 'link', 'add', 'fbv0', 'type', 'veth', 'peer', 'name', 'fbv1'] },
  { name: 'fbi0', kind: 'IFB', make: ['ip', '-n', HOST_NS, 'link', 'add', 'fbi0', 'type', 'ifb'] },
  { name: 'fbt0', kind: 'tap', make: ['ip', '-n', HOST_NS, 'tuntap', 'add', 'dev', 'fbt0', 'mode', 'tap'] },
];

interface IpLink {
  readonly ifname: string;
  readonly flags: readonly string[];
  readonly master?: string;
  readonly linkinfo?: { readonly info_kind?: string };
}

/** What plan or apply could have changed: the namespace's devices (name, kind, flags, master; not the bridge's timers), addresses, qdiscs, and the record. */
async function snapshot(): Promise<string> {
  const links = (JSON.parse(await sh('ip', ['-n', HOST_NS, '-d', '-j', 'link', 'show'])) as IpLink[]).map((l) => `${l.ifname} ${l.linkinfo?.info_kind ?? '-'} ${l.flags.join(',')} ${l.master ?? '-'}`);
  return [
    links.join('\n'),
    await sh('ip', ['-n', HOST_NS, 'addr', 'show']),
    await sh('tc', ['-n', HOST_NS, 'qdisc', 'show']),
    readFileSync(RECORD, 'utf8'),
  ].join('\n');
}

describeKernel('a device of another kind named as the bridge is refused before any change', [], () => {
  const bed = cliTestbed('fb-');

  beforeAll(async () => {
    expect((await sluice(['apply', bed.policy])).code).toBe(EXIT.ok);
    for (const d of DEVICES) {
      const [cmd, ...args] = d.make;
      await sh(cmd!, args);
    }
  }, 60_000);

  // Before the testbed's destroy (hooks run in reverse): a namespace holding a stranger's
  // device is kept by destroy, so the strangers go first.
  afterAll(async () => {
    for (const d of DEVICES) await sh('ip', ['-n', HOST_NS, 'link', 'del', d.name]).catch(() => undefined);
  });

  const policyNaming = (bridge: string): string => {
    const file = join(bed.dir, `bridge-${bridge}.yaml`);
    writeFileSync(file, readFileSync(bed.policy, 'utf8').replace('bridge: sl-br0', `bridge: ${bridge}`));
    return file;
  };

  for (const d of DEVICES) {
    it(`plan with bridge: ${d.name} (a stranger's ${d.kind}) exits 3 (EFOREIGN), names it, and changes nothing`, async () => {
      const before = await snapshot();
      const text = await sluice(['plan', policyNaming(d.name)]);
      expect(text.code, text.stderr).toBe(EXIT.kernel);
      expect(text.stdout).not.toContain('delete link');
      expect(text.stderr).toContain(`link ${d.name} (`);
      expect(text.stderr).toContain('already exists and is not a bridge');
      expect(text.stderr).toMatch(new RegExp(`hint: write another name in the Host's spec\\.bridge .*never deletes ${d.name}.*external: true`));
      const asJson = json<{ ok: boolean; error: { code: string } }>(await sluice(['plan', policyNaming(d.name), '-o', 'json']));
      expect(asJson).toMatchObject({ ok: false, error: { code: 'EFOREIGN' } });
      expect(await snapshot()).toBe(before);
    });
  }

  it('apply with bridge: fbt0 is refused the same way, before any operation', async () => {
    const before = await snapshot();
    const r = await sluice(['apply', policyNaming('fbt0')]);
    expect(r.code, r.stderr).toBe(EXIT.kernel);
    expect(r.stderr).toContain('refused before any change');
    expect(r.stderr).not.toContain('operation(s) applied');
    expect(await snapshot()).toBe(before);
  });

  it('bridge: lo is refused by validation (exit 1, file:line), on any machine, and changes nothing', async () => {
    const before = await snapshot();
    const file = policyNaming('lo');
    const r = await sluice(['plan', file]);
    expect(r.code, r.stderr).toBe(EXIT.invalid);
    expect(r.stderr).toMatch(new RegExp(`${file}:\\d+:\\d+: spec\\.bridge: bridge: lo names the loopback device every namespace has`));
    expect(await snapshot()).toBe(before);
  });
});
