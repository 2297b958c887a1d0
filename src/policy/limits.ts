// What a policy may ask for, decided by what the kernel can do with it: the compiler
// reads these limits, validation enforces them. Pure constants.

/**
 * The largest ratio between two non-zero guarantees of siblings (one direction) whose
 * HTB quanta stay proportional (src/compile/htb.ts, quantumBase): validation rejects
 * more. Classes below largest/ratio, and zero guarantees, borrow as if guaranteed
 * largest/ratio.
 */
export const MAX_GUARANTEE_RATIO = 1024;
