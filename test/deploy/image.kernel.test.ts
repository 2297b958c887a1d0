// The agent image: scripts/build-image.ts builds sluice:<version> in the Docker test bed's
// daemon (its own sl-docker namespace, no registry); Docker runs `sluice --version` and
// `sluice validate` in it; the DaemonSet names that image, and its two commands run in it
// as written (the agent up to the capabilities a pod without privileges lacks, the CNI
// installer to the end, into directories standing in for the node's); and the saved image
// loads into a containerd with `ctr -n k8s.io images import`, as the README says.
// Runtime: ~3 min on a fresh machine (debootstrap of the base ~70 s, npm pack and install
// ~60 s, docker build ~20 s, containerd import ~15 s); ~80 s warm (base cached), ~35 s
// when the package test of the same run installed the package (test/support/installedOnce.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { agentImage, buildAgentImage, saveImage } from '../../scripts/build-image';
import { packageVersion, runProgram } from '../../scripts/package';
import { TESTBED, TestDaemon } from '../../src/sources/docker/testbed';
import { describeKernel } from '../support/kernel';
import { installedOnce } from '../support/installedOnce';

interface PodContainer {
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly env?: readonly { name: string; value?: string }[];
}

/** The DaemonSet's containers (init containers first) and the ConfigMap's policy files. */
function daemonSet(): { containers: PodContainer[]; policy: Record<string, string> } {
  const docs = parseAllDocuments(readFileSync('deploy/kubernetes/daemonset.yaml', 'utf8')).map((d) => d.toJS() as { kind: string; data?: Record<string, string>; spec?: { template: { spec: { initContainers?: PodContainer[]; containers: PodContainer[] } } } });
  const ds = docs.find((d) => d.kind === 'DaemonSet')!.spec!.template.spec;
  return { containers: [...(ds.initContainers ?? []), ...ds.containers], policy: docs.find((d) => d.kind === 'ConfigMap')!.data! };
}

describeKernel('the agent image', ['dockerd', 'docker', 'nsenter', 'debootstrap', 'npm', 'containerd', 'ctr'], () => {
  const dir = mkdtempSync(join(tmpdir(), 'sl-img-'));
  let daemon: TestDaemon | undefined;
  const docker = (args: readonly string[]) => runProgram('docker', ['-H', TESTBED.endpoint, ...args], { timeoutMs: 180_000 });
  /** `docker run --rm` without a network, `mounts` as host:container. */
  const run = (command: readonly string[], mounts: readonly string[] = [], env: readonly string[] = []) =>
    docker(['run', '--rm', '--network', 'none', ...mounts.flatMap((m) => ['-v', m]), ...env.flatMap((e) => ['-e', e]), agentImage(), ...command]);

  beforeAll(async () => {
    daemon = await TestDaemon.ensure((line) => console.log(line));
    // From the package as this run installed it (the package test runs the same install).
    expect(await buildAgentImage(daemon.endpoint, (line) => console.log(line), (await installedOnce()).prefix)).toBe(`sluice:${packageVersion()}`);
    const policyDir = join(dir, 'policy');
    mkdirSync(policyDir);
    for (const [file, text] of Object.entries(daemonSet().policy)) writeFileSync(join(policyDir, file), text);
  }, 900_000);

  afterAll(async () => {
    await daemon?.stop({ keepContainers: true });
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('runs sluice --version and sluice validate with Docker', async () => {
    expect((await run(['sluice', '--version'])).stdout.trim()).toBe(packageVersion());
    const examples = await run(['sluice', 'validate', '/app/policies/']);
    expect(examples.code, examples.stderr).toBe(0);
    // No paths: /etc/sluice/, where the DaemonSet mounts its ConfigMap.
    const configMap = await run(['sluice', 'validate'], [`${join(dir, 'policy')}:/etc/sluice:ro`]);
    expect(configMap.code, configMap.stderr).toBe(0);
    expect(configMap.stdout).toMatch(/^OK: 1 file\(s\), host node/);
  });

  it("is the DaemonSet's image, and the agent's command runs in it up to the capabilities it is given", async () => {
    const { containers } = daemonSet();
    expect(containers.map((c) => c.image)).toEqual(containers.map(() => agentImage()));
    const agent = containers.find((c) => c.name === 'agent')!;
    // Docker's default capabilities lack both; the DaemonSet runs it privileged.
    const r = await run(agent.command, [`${join(dir, 'policy')}:/etc/sluice:ro`]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('sluice serve needs CAP_NET_ADMIN and CAP_SYS_ADMIN, which this process lacks');
  });

  it("runs the init container's command to the end: the plugin installed and chained on the (stand-in) node", async () => {
    const installer = daemonSet().containers.find((c) => c.name === 'install-cni')!;
    const node = { bin: join(dir, 'node', 'bin'), conf: join(dir, 'node', 'net.d'), opt: join(dir, 'node', 'opt') };
    for (const d of Object.values(node)) mkdirSync(d, { recursive: true });
    writeFileSync(join(node.conf, '10-pods.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'pods', plugins: [{ type: 'bridge', bridge: 'cni0' }, { type: 'bandwidth' }] }));
    const env = (installer.env ?? []).filter((e) => e.value !== undefined).map((e) => `${e.name}=${e.value}`);
    const r = await run(installer.command, [`${node.bin}:/host/opt/cni/bin`, `${node.conf}:/host/etc/cni/net.d`, `${node.opt}:/host/opt/sluice`], env);
    expect(r.code, r.stderr).toBe(0);
    // `sluice` is the native plugin (it hands ADD to serve); `sluice-node`, which it execs while serve is down, the Node one.
    expect(readFileSync(join(node.bin, 'sluice')).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(readFileSync(join(node.bin, 'sluice-node'), 'utf8')).toContain('exec /opt/sluice/node /opt/sluice/app/bin/sluice-cni.js');
    expect(existsSync(join(node.opt, 'node'))).toBe(true);
    expect(existsSync(join(node.opt, 'app', 'native', 'build', 'Release', 'sluice_native.node'))).toBe(true);
    const chained = JSON.parse(readFileSync(join(node.conf, '10-pods.conflist'), 'utf8')) as { plugins: { type: string }[] };
    expect(chained.plugins.map((p) => p.type)).toEqual(['bridge', 'sluice']);
    // The plugin as the node runs it: the copied Node and package answer VERSION.
    const version = await runProgram(join(node.opt, 'node'), [join(node.opt, 'app', 'bin', 'sluice-cni.js')], { env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}' });
    expect(version.stdout).toContain('"supportedVersions"');
  });

  it('loads into a node\'s containerd with ctr -n k8s.io images import', async () => {
    const file = join(dir, 'sluice.image.tar');
    await saveImage(TESTBED.endpoint, agentImage(), file);
    const ctr = join(dir, 'containerd');
    mkdirSync(ctr);
    // A containerd of this test's own (socket, root and state under its directory; no CRI).
    writeFileSync(join(ctr, 'config.toml'), 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n');
    const socket = join(ctr, 'containerd.sock');
    const containerd = spawn('containerd', ['--config', join(ctr, 'config.toml'), '--address', socket, '--root', join(ctr, 'root'), '--state', join(ctr, 'state')], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
      const imported = await runProgram('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'import', file], { timeoutMs: 180_000 });
      expect(imported.code, imported.stderr).toBe(0);
      const listed = await runProgram('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'ls', '-q']);
      // What the kubelet asks for when a pod names image "sluice:<version>".
      expect(listed.stdout.split('\n')).toContain(`docker.io/library/${agentImage()}`);
    } finally {
      containerd.kill('SIGTERM');
      await new Promise((r) => containerd.once('exit', r));
    }
  });
});
