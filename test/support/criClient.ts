// The kubelet's side of CRI for the containerd test bed: RunPodSandbox with the pod's
// metadata and annotations, PodSandboxStatus for its IP and network namespace,
// StopPodSandbox and RemovePodSandbox, over containerd's gRPC socket, with the minimal
// runtime.v1 proto in test/support/cri/runtime.proto.
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';

const PROTO = join(__dirname, 'cri', 'runtime.proto');

/** What a pod carries into RunPodSandbox, as the kubelet fills PodSandboxConfig. */
export interface PodSandboxSpec {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  /** cgroupfs syntax: the kubelet's pod cgroup parent. */
  readonly cgroupParent: string;
}

export interface SandboxStatus {
  readonly id: string;
  readonly state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  readonly ip: string;
  /** The pod's network namespace (from the verbose info's runtime spec). */
  readonly netns: string | undefined;
}

interface Metadata {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly attempt: number;
}

interface StatusResponse {
  readonly status: { readonly id: string; readonly state: SandboxStatus['state']; readonly network: { readonly ip: string } | null };
  readonly info: Readonly<Record<string, string>>;
}

type Call<Req, Res> = (request: Req, callback: (error: ServiceError | null, response: Res) => void) => void;

/** The RuntimeService methods the test bed calls (the generated client's shape). */
interface RuntimeServiceClient extends Client {
  Version: Call<{ version: string }, { runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }>;
  RunPodSandbox: Call<{ config: Record<string, unknown>; runtimeHandler: string }, { podSandboxId: string }>;
  StopPodSandbox: Call<{ podSandboxId: string }, Record<string, never>>;
  RemovePodSandbox: Call<{ podSandboxId: string }, Record<string, never>>;
  PodSandboxStatus: Call<{ podSandboxId: string; verbose: boolean }, StatusResponse>;
  ListPodSandbox: Call<Record<string, never>, { items: { id: string; metadata: Metadata }[] }>;
}

type RuntimeServiceConstructor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => RuntimeServiceClient;

function runtimeServiceConstructor(): RuntimeServiceConstructor {
  const definition = loadSync(PROTO, { keepCase: false, longs: Number, enums: String, defaults: true });
  const loaded = loadPackageDefinition(definition) as unknown as { runtime: { v1: { RuntimeService: RuntimeServiceConstructor } } };
  return loaded.runtime.v1.RuntimeService;
}

export class CriClient {
  private readonly client: RuntimeServiceClient;

  constructor(socket: string) {
    const RuntimeService = runtimeServiceConstructor();
    this.client = new RuntimeService(`unix://${socket}`, credentials.createInsecure());
  }

  private call<Req, Res>(method: Call<Req, Res>, request: Req, timeoutMs = 60_000): Promise<Res> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`CRI call timed out after ${timeoutMs} ms`)), timeoutMs);
      method.call(this.client, request, (error, response) => {
        clearTimeout(timer);
        if (error) reject(new Error(`CRI: ${error.details || error.message}`));
        else resolve(response);
      });
    });
  }

  async version(): Promise<string> {
    const v = await this.call(this.client.Version, { version: 'v1' }, 2_000);
    return `${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion})`;
  }

  /** RunPodSandbox as the kubelet sends it: metadata, hostname, labels, annotations, cgroup parent. */
  async runPodSandbox(pod: PodSandboxSpec): Promise<string> {
    const config = {
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: 0 },
      hostname: pod.name,
      labels: { 'io.kubernetes.pod.name': pod.name, 'io.kubernetes.pod.namespace': pod.namespace, 'io.kubernetes.pod.uid': pod.uid, ...pod.labels },
      annotations: { ...pod.annotations },
      linux: { cgroupParent: pod.cgroupParent },
    };
    return (await this.call(this.client.RunPodSandbox, { config, runtimeHandler: '' })).podSandboxId;
  }

  async podSandboxStatus(id: string): Promise<SandboxStatus> {
    const r = await this.call(this.client.PodSandboxStatus, { podSandboxId: id, verbose: true });
    return { id: r.status.id, state: r.status.state, ip: r.status.network?.ip ?? '', netns: netnsOf(r.info['info']) };
  }

  stopPodSandbox(id: string): Promise<unknown> {
    return this.call(this.client.StopPodSandbox, { podSandboxId: id });
  }

  removePodSandbox(id: string): Promise<unknown> {
    return this.call(this.client.RemovePodSandbox, { podSandboxId: id });
  }

  async listPodSandbox(): Promise<{ id: string; name: string; namespace: string }[]> {
    const r = await this.call(this.client.ListPodSandbox, {});
    return r.items.map((i) => ({ id: i.id, name: i.metadata.name, namespace: i.metadata.namespace }));
  }

  close(): void {
    this.client.close();
  }
}

/** containerd's verbose info: {"runtimeSpec": {"linux": {"namespaces": [{"type": "network", "path": …}]}}}. */
function netnsOf(info: string | undefined): string | undefined {
  if (!info) return undefined;
  const parsed = JSON.parse(info) as { runtimeSpec?: { linux?: { namespaces?: { type: string; path?: string }[] } } };
  return parsed.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
}
