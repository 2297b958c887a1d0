// Wiring for commands that talk to the kernel: open the port, observe what a policy
// covers, close. Filled in once the kernel port lands.

import type { Policy } from '../policy/model';
import { emptyKernelState, type KernelState } from '../tc/model';

export async function observeCurrent(policy: Policy): Promise<KernelState> {
  void policy;
  return emptyKernelState();
}
