// What a policy may ask for, decided by what the kernel can do with it: the compiler
// reads these limits, validation enforces them. Pure constants.

/**
 * The largest ratio between two non-zero guarantees of siblings (one direction) whose
 * HTB quanta stay proportional (src/compile/htb.ts, quantumBase): validation rejects
 * more. Classes below largest/ratio, and zero guarantees, borrow as if guaranteed
 * largest/ratio.
 */
export const MAX_GUARANTEE_RATIO = 1024;

/**
 * How deep groups nest: a group, its subgroups and theirs (group → subgroup → subgroup →
 * container). Each level is one more HTB a packet passes through (src/compile/trees.ts).
 */
export const MAX_GROUP_LEVELS = 3;
