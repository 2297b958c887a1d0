// The namespace facts the applier reads from the machine, through the addon.

import type { NamespaceProbe } from '../apply/applier';
import { netnsExists, readSysctl } from '../kernel/native';

export const nativeProbe: NamespaceProbe = {
  exists: (ns) => netnsExists(ns),
  readSysctl: (ns, key) => {
    try {
      return readSysctl(ns, key);
    } catch {
      return undefined;
    }
  },
};
