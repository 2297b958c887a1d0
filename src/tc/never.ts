/** The end of an exhaustive switch: a new case left unhandled is a compile error. */
export function assertNever(x: never): never {
  throw new Error(`unreachable: unexpected value ${JSON.stringify(x)}`);
}
