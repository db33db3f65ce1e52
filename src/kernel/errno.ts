/** errno numbers and their names (EBUSY, ENOSPC, …), as the metrics and messages spell them. */
import * as os from 'node:os';

const NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

export function errnoName(n: number): string {
  return NAMES.get(n) ?? `E${n}`;
}

export const EWOULDBLOCK = os.constants.errno.EWOULDBLOCK;
