// "Nothing left behind", checked for a whole kernel run (test/support/kernelSetup.ts): the
// entries of the system directories where daemons and tests could leave something are
// listed before the run and after it, and each new one fails the run, named with the test
// bed that makes it. Only the listing reads the file system; the comparison is pure.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Directories whose every new entry is a leftover. */
const WATCHED = ['/run', '/run/netns', '/dev/shm', '/var/lib'];
/**
 * /tmp is every process's on this machine, so only the entries named as this project
 * names its scratch files (sl-…) are listed, and they are shown but do not fail the run:
 * others name theirs so too (the lead's /tmp/sl-lead, made during a docker file's run,
 * failed it). The run's own files go to its directory (TMPDIR of the test files and of
 * the daemons they start), which the global setup removes.
 */
const TMP = '/tmp';
const OURS_IN_TMP = /^sl-/;
const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * New entries that are not leftovers. /run/sluice is the product's own state directory:
 * its lock files (/run/sluice/locks, src/host/lock.ts) are never unlinked, by design,
 * since removing a locked file lets a second writer lock a new file of the same name.
 */
export const NOT_LEFTOVERS: readonly string[] = ['/run/sluice'];

/** Who makes what, to name in the failure (first match wins). */
const MAKERS: readonly (readonly [RegExp, string])[] = [
  [/^\/run\/sl-docker$|^\/run\/docker$|\/sl-docker$|\/docker$/, 'the Docker test bed (src/sources/docker/testbed.ts: dockerd and its containerd)'],
  [/^\/run\/sl-podman$|^\/run\/libpod$|^\/dev\/shm\/libpod_lock$|^\/var\/lib\/containers$|\/sl-podman$|\/libpod_parent$/, 'the Podman test (test/cni/podman.kernel.test.ts)'],
  [/^\/run\/containerd$|^\/run\/runc$/, 'a containerd (test/support/containerd.ts; dockerd runs one too) or runc'],
  [/^\/var\/lib\/cni$/, "libcni's result cache: a CNI runtime (the CRI bed's containerd, test/support/containerd.ts; podman, test/cni/podman.kernel.test.ts)"],
  [/^\/run\/netns\//, "a test's network namespace (sl-… names are the tests')"],
];

/** The entries (full paths) of the watched directories now. */
export function listEntries(): Set<string> {
  const entries = new Set<string>();
  const add = (dir: string, keep: (name: string) => boolean = () => true): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) if (keep(name)) entries.add(join(dir, name));
  };
  for (const dir of WATCHED) add(dir);
  add(TMP, (name) => OURS_IN_TMP.test(name));
  // The top level of each hierarchy: v2 has one, v1 one a controller.
  for (const hierarchy of cgroupHierarchies()) add(hierarchy, (name) => isDirectory(join(hierarchy, name)));
  return entries;
}

export interface Leftover {
  readonly path: string;
  readonly madeBy: string;
  /** False for /tmp's: shown, not failing the run (see TMP). */
  readonly counts: boolean;
}

/** What is in `after` and not in `before`, less what is not a leftover, each with its maker. */
export function leftovers(before: ReadonlySet<string>, after: ReadonlySet<string>, notLeftovers: readonly string[] = NOT_LEFTOVERS): Leftover[] {
  return [...after]
    .filter((path) => !before.has(path) && !notLeftovers.includes(path))
    .sort()
    .map((path) => ({ path, madeBy: madeBy(path), counts: !path.startsWith(`${TMP}/`) }));
}

export function madeBy(path: string): string {
  return MAKERS.find(([pattern]) => pattern.test(path))?.[1] ?? 'not known: run each kernel test file alone and list the directory before and after';
}

/** The failure's message: each leftover, who makes it, what to do; then what is new in /tmp, not counted. */
export function leftoversMessage(found: readonly Leftover[]): string {
  const counted = found.filter((l) => l.counts);
  const shown = found.filter((l) => !l.counts);
  return [
    ...(counted.length > 0
      ? [
          `the kernel run left ${counted.length} thing(s) behind that were not there before it (DESIGN.md: tests "remove everything they created, even when they fail"):`,
          ...counted.map((l) => `  ${l.path}  (made by ${l.madeBy})`),
          'Make the test bed that made it remove it (docs/decisions.md, "Test daemons leave nothing behind"), then remove it from this machine by hand.',
        ]
      : []),
    ...(shown.length > 0 ? ['new in /tmp during the run (not counted: other processes name theirs sl- too):', ...shown.map((l) => `  ${l.path}`)] : []),
  ].join('\n');
}

function cgroupHierarchies(): string[] {
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) return [CGROUP_ROOT];
  return readdirSync(CGROUP_ROOT).map((c) => join(CGROUP_ROOT, c)).filter(isDirectory);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
