// Builds the agent image sluice:<version> (deploy/image/Dockerfile) without a registry, in
// the Docker test bed's daemon (its own sl-docker namespace; the host's Docker is never
// used). Root, once: `npx tsx scripts/build-image.ts [--save sluice-<version>.image.tar]`.
// Load the saved image into a node's containerd with `ctr -n k8s.io images import <file>`.
//
// The base (Debian bookworm minbase) is debootstrapped once and cached in
// /var/cache/sluice; the daemon keeps the images it built in /var/lib/sl-docker.

import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { dockerClient } from '../src/sources/docker/engine';
import { ensureDebianImage, TestDaemon, type Progress } from '../src/sources/docker/testbed';
import { installedPackage, packAndInstall, packageVersion, REPO_ROOT, runProgram } from './package';

export const BASE_IMAGE = 'sluice-base:bookworm';
const BASE_ROOTFS = '/var/cache/sluice/sluice-base-rootfs.tar';

export const agentImage = (): string => `sluice:${packageVersion()}`;

/**
 * Libraries that Node's binary loads and the base already has: glibc's and the C++
 * runtime's, from the same Debian release. Anything else it links (a distribution's
 * shared libnode, libuv, OpenSSL, ICU) is copied beside it.
 */
const IN_BASE = /^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\b/;

/** Node's shared libraries that the base image lacks, by path (from ldd). */
export async function librariesToCopy(node: string): Promise<string[]> {
  const r = await runProgram('ldd', [node]);
  if (r.code !== 0) throw new Error(`ldd ${node} exited ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').flatMap((line) => {
    const m = /^\s*(\S+)\s+=>\s+(\/\S+)/.exec(line);
    return m && !IN_BASE.test(m[1]!) ? [m[2]!] : [];
  });
}

/**
 * The build context: the Dockerfile, this Node and its extra libraries, the package
 * installed from its tarball: the one at `installed` (a prefix packAndInstall made of this
 * checkout), or packed and installed here.
 */
async function buildContext(dir: string, progress: Progress, installed: string | undefined): Promise<void> {
  let prefix = installed;
  if (prefix === undefined) {
    progress('npm pack, npm install -g (builds the addon)');
    prefix = (await packAndInstall(join(dir, 'stage'))).prefix;
  }
  cpSync(installedPackage(prefix), join(dir, 'context', 'app'), { recursive: true, verbatimSymlinks: true });
  copyFileSync(process.execPath, join(dir, 'context', 'node'));
  mkdirSync(join(dir, 'context', 'lib'), { recursive: true });
  for (const lib of await librariesToCopy(process.execPath)) copyFileSync(lib, join(dir, 'context', 'lib', basename(lib)));
  copyFileSync(join(REPO_ROOT, 'deploy', 'image', 'Dockerfile'), join(dir, 'context', 'Dockerfile'));
}

/** Builds sluice:<version> in the daemon at `endpoint` (from the package installed at prefix `installed`, if given); its tag. */
export async function buildAgentImage(endpoint: string, progress: Progress, installed?: string): Promise<string> {
  const image = agentImage();
  await ensureDebianImage(endpoint, BASE_IMAGE, BASE_ROOTFS, [], progress);
  const dir = mkdtempSync(join(tmpdir(), 'sl-image-'));
  try {
    mkdirSync(join(dir, 'context'));
    await buildContext(dir, progress, installed);
    progress(`docker build -t ${image} (deploy/image/Dockerfile)`);
    const tar = spawn('tar', ['-C', join(dir, 'context'), '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const docker = dockerClient(endpoint);
    const stream = await docker.buildImage(tar.stdout as unknown as string, { t: image, buildargs: { VERSION: packageVersion() }, rm: true, forcerm: true });
    const output = await new Promise<{ stream?: string; error?: string }[]>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: { stream?: string; error?: string }[]) => (err ? reject(err) : resolve(out))));
    const failed = output.find((o) => o.error !== undefined);
    if (failed) throw new Error(`docker build of ${image} failed: ${failed.error}\n${output.map((o) => o.stream ?? '').join('').split('\n').slice(-20).join('\n')}`);
    progress(`built ${image}: ${((await docker.getImage(image).inspect()).Size / 1e6).toFixed(0)} MB`);
    return image;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `docker save` of `image` to `file`: what `ctr -n k8s.io images import` and `docker load` read. */
export async function saveImage(endpoint: string, image: string, file: string): Promise<void> {
  const stream = await dockerClient(endpoint).getImage(image).get();
  await pipeline(stream, createWriteStream(file));
}

async function main(): Promise<void> {
  const saveAt = process.argv.indexOf('--save');
  const file = saveAt > 0 ? process.argv[saveAt + 1] : undefined;
  if (saveAt > 0 && !file) throw new Error('--save needs a file name, e.g. --save sluice.image.tar');
  const progress: Progress = (line) => process.stdout.write(`${line}\n`);
  const daemon = await TestDaemon.ensure(progress);
  try {
    const image = await buildAgentImage(daemon.endpoint, progress);
    progress(`${image} is in the daemon at ${daemon.endpoint}`);
    if (file) {
      await saveImage(daemon.endpoint, image, file);
      progress(`saved ${image} to ${file}; on a node: ctr -n k8s.io images import ${file}`);
    }
  } finally {
    await daemon.stop({ keepContainers: true });
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`build-image: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
