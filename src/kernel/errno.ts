/** errno numbers and their names (EBUSY, ENOSPC, …), as the metrics and messages spell them. */
import * as os from 'node:os';

const NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));
// The kernel's own name for 11 (EWOULDBLOCK is defined as it).
NAMES.set(os.constants.errno.EAGAIN, 'EAGAIN');

export function errnoName(n: number): string {
  return NAMES.get(n) ?? `E${n}`;
}

export const EWOULDBLOCK = os.constants.errno.EWOULDBLOCK;
