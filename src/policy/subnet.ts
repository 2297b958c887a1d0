// Addresses moved to src/net/ (parsed once, below every folder that reads them). This
// re-export stays only for src/cni/check.ts, which another change owns while this one
// lands; remove it when that file imports ../net/ipv4.
export { ipToInt } from '../net/ipv4';
