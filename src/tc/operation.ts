// A plan is an ordered list of operations on kernel objects: a value that tests compare,
// the planner (src/plan/) produces and the kernel port executes. Parents come before
// children on create, children before parents on delete; `change` modifies in place
// where the kernel allows it.

import type { KernelObject } from './model';

export type Operation =
  | { readonly op: 'create'; readonly object: KernelObject }
  | { readonly op: 'change'; readonly object: KernelObject; readonly before: KernelObject; readonly fields: readonly string[] }
  | { readonly op: 'delete'; readonly object: KernelObject };

export type Plan = readonly Operation[];
