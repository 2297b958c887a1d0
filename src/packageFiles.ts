// Files the package ships beside its code (the example policies, the Docker demo's compose
// file), found from this module rather than the working directory: an installed `sluice
// demo` works from any directory.

import path from 'node:path';

/** src/ (under tsx) and dist/ (built) are both one level below the package root. */
const PACKAGE_ROOT = path.resolve(__dirname, '..');

export const packageFile = (...parts: readonly string[]): string => path.join(PACKAGE_ROOT, ...parts);
