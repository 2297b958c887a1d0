// Errors are typed values an operator can act on: what failed, on which object, and
// what to do. Every error Sluice raises on purpose is a SluiceError; anything else
// reaching the CLI is a bug.

export abstract class SluiceError extends Error {
  abstract readonly code: string;
  /** What the operator can do about it. */
  readonly hint: string | undefined;

  protected constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }

  /** One or more lines for a terminal: the message, then the hint. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/**
 * The process is not root, or (`lacking`) root without capabilities the action needs: a
 * bounding set (systemd's CapabilityBoundingSet=, a container's capabilities) left them out.
 */
export class PermissionError extends SluiceError {
  readonly code = 'EPERM';
  constructor(action: string, lacking: readonly string[] = []) {
    if (lacking.length === 0) super(`${action} needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)`, 'run it as root, e.g. `sudo npx sluice ...`');
    else super(`${action} needs ${lacking.join(' and ')}, which this process lacks`, `add ${lacking.join(' ')} to the capability bounding set it runs with (CapabilityBoundingSet= in deploy/systemd/sluice.service, a container's capabilities)`);
  }
}

/** A kernel feature (qdisc kind, classifier, device type) is not built into this kernel. */
export class FeatureMissingError extends SluiceError {
  readonly code = 'ENOFEATURE';
  constructor(readonly feature: string, fallback: string) {
    super(`this kernel lacks ${feature}`, fallback);
  }
}

/**
 * The kernel refused a request. Carries the errno, the object and namespace it was
 * about, and the kernel's own extended-ack message when there was one.
 */
export class KernelError extends SluiceError {
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly errnoName: string,
    readonly request: string,
    readonly object: string,
    readonly netns: string,
    readonly kernelMessage?: string,
    hint?: string,
  ) {
    super(
      `${request} ${object} in netns ${netns} failed: ${errnoName}${kernelMessage ? ` (kernel: ${kernelMessage})` : ''}`,
      hint,
    );
    this.code = errnoName;
  }
}

/** A network namespace file (/run/netns/<name>, /proc/<pid>/ns/net) does not exist. */
export class NamespaceNotFoundError extends SluiceError {
  readonly code = 'ENONETNS';
  constructor(readonly netns: string, readonly path: string) {
    super(
      `network namespace ${netns} not found (${path})`,
      'create it first, or check the name with `ip netns list` (for a container, check its pid is still running)',
    );
  }
}

/** The Docker Engine API did not answer where Sluice looked. */
export class DockerUnreachableError extends SluiceError {
  readonly code = 'EDOCKER';
  constructor(readonly endpoint: string, cause: string) {
    super(
      `cannot reach the Docker daemon at ${endpoint} (${cause})`,
      'start dockerd, or point Sluice at its socket: --docker-endpoint unix:///path/docker.sock, spec.docker.endpoint in the Host, or $DOCKER_HOST',
    );
  }
}

/** The kernel answered with a message Sluice cannot read: shorter than its header, or an attribute of the wrong size. */
export class MalformedReplyError extends SluiceError {
  readonly code = 'EBADMSG';
  constructor(readonly what: string, detail: string) {
    super(`cannot read the kernel's ${what}: ${detail}`, 'no Linux kernel answers like this; report it with `uname -r` and the command that read it');
  }
}

/** A path from a policy (netns file, cgroup) that would resolve outside where it must live. */
export class PathEscapeError extends SluiceError {
  readonly code = 'EPATH';
  constructor(readonly what: string, readonly path: string, readonly resolved: string, readonly root: string) {
    super(`${what} ${path} resolves to ${resolved}, outside ${root}`, `name something under ${root} itself, not a link or a ".." path leading out of it`);
  }
}
