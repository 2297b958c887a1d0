// Paths a policy names (a namespace file, a cgroup) are joined to a root by the kernel
// port. A ".." segment would walk out of that root (`cgroup: ../../../etc` would have
// Sluice write net_cls.classid into /etc), so such a path is refused at validation, with
// its place in the file. Symlinks leaving the root are caught where the path is resolved.

/** Why a policy path is refused, or undefined when it has no ".." segment. */
export function dotDotIssue(path: string): string | undefined {
  return path.split('/').includes('..') ? `"${path}" has a ".." segment, which would lead out of the directory it is meant to name` : undefined;
}
