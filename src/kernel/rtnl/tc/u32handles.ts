// u32 handles on a qdisc that also holds someone else's u32 filters.
//
// The kernel keeps ONE u32 handle space per qdisc (struct tc_u_common), shared by every
// priority: the first u32 instance gets root table 800:, the next ones 801:, 802:…
// (gen_new_htid). Sluice's model names the root table of its own priority 800:; on a
// bridge whose ingress already carries a foreign u32 filter, Sluice's root table is 801:,
// and sending "800::800" names the FOREIGN filter (u32_get looks tables up in the shared
// space): create fails with EEXIST, and a delete would remove their filter. So:
// - observed root-table entries are read back under the canonical table 800:, their
//   kernel handle remembered beside the object (not in it: the diff compares objects);
// - a create names only the node (table 0: the kernel puts it in this priority's root);
// - a delete uses the remembered kernel handle.

const ROOT_TABLE = 0x800;
/** TC_U32_ROOT: "the root table of this instance" in TCA_U32_HASH, never a real table. */
const TC_U32_ROOT = 0xfff;

const tableOf = (handle: number): number => handle >>> 20;

/** A root table the kernel allocated (800: for the first instance, 801:… after it). */
const isRootTable = (table: number): boolean => table >= ROOT_TABLE && table < TC_U32_ROOT;

/** The entry a dump lists for an instance's root table itself (htid::0): nobody created it. */
export const isU32RootTableEntry = (handle: number): boolean => isRootTable(tableOf(handle)) && (handle & 0xfffff) === 0;

/** The model's handle of an observed entry: its root table spelled 800:. */
export const canonicalU32Handle = (handle: number): number => (isRootTable(tableOf(handle)) ? ((ROOT_TABLE << 20) | (handle & 0xfffff)) >>> 0 : handle >>> 0);

const kernelHandles = new WeakMap<object, number>();

/** Remembers the kernel's handle of an observed filter whose model handle differs. */
export function rememberKernelHandle(filter: object, handle: number): void {
  kernelHandles.set(filter, handle >>> 0);
}

/** The tcm_handle for deleting an observed u32 filter. */
export const u32DeleteHandle = (filter: object, handle: number): number => kernelHandles.get(filter) ?? handle;

/** The tcm_handle for creating a u32 entry: in the root table, the node alone. */
export const u32CreateHandle = (handle: number): number => (tableOf(handle) === ROOT_TABLE ? handle & 0xfff : handle);
