// errno numbers as the kernel answers them, by the names operators read (ENOENT, EPERM).

import { constants as osConstants } from 'node:os';

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

export const errnoName = (n: number): string => ERRNO_NAMES.get(n) ?? `errno ${n}`;
