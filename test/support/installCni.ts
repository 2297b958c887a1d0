// deploy/kubernetes/install-cni.js's steps, as the DaemonSet's init container runs them,
// for the test beds and benches to install and chain the plugin the same way.
import { resolve } from 'node:path';

interface InstallCni {
  /** `sluice` (the native shim) and `sluice-node` (runs `nodeCommand`) into a CNI bin directory. */
  installExecutables(binDir: string, shim: string, nodeCommand: string, log?: (line: string) => void): void;
  /** Chains `plugin` at the end of the first configuration in `confDir`, replacing a bandwidth plugin. */
  chainIntoFirstConflist(confDir: string, plugin?: Record<string, unknown>, log?: (line: string) => void): void;
  readonly SLUICE_PLUGIN: Readonly<Record<string, unknown>>;
}

export const installCni = require('../../deploy/kubernetes/install-cni.js') as InstallCni;

/** install-cni.js's progress lines, not wanted in test and bench output. */
export const quietly = (): void => undefined;

/** The native plugin `npm ci` builds. */
export const SHIM = resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'sluice-cni');

/** The Node plugin from this checkout's source, for `sluice-node`. */
export const NODE_PLUGIN_FROM_SOURCE = `${resolve(__dirname, '..', '..', 'node_modules', '.bin', 'tsx')} ${resolve(__dirname, '..', '..', 'src', 'cni', 'main.ts')}`;
