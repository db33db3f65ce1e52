/** Capabilities of this process, from /proc/self/status (what the kernel checks, not the uid). */
import * as fs from 'node:fs';

const CAP_SYS_ADMIN = 21;

/** Whether this process has CAP_SYS_ADMIN in its effective set (root usually does). */
export function hasCapSysAdmin(statusText = fs.readFileSync('/proc/self/status', 'utf8')): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText);
  return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(CAP_SYS_ADMIN)) & 1n) === 1n;
}
