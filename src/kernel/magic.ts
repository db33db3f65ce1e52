/** Filesystem magic numbers (statfs f_type), to tell what a path is by the kernel's word, not its name. */
import * as fs from 'node:fs';

export const PROC_SUPER_MAGIC = 0x9fa0;
export const SYSFS_MAGIC = 0x62656572;
export const TRACEFS_MAGIC = 0x74726163;

/** The filesystem type of `p`, or undefined when it cannot be stat'ed. */
export function fsType(p: string): number | undefined {
  try {
    return fs.statfsSync(p).type;
  } catch {
    return undefined;
  }
}

export function isProcfs(p: string): boolean {
  return fsType(p) === PROC_SUPER_MAGIC;
}
