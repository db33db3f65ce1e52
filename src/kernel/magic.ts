/** Filesystem magic numbers (statfs f_type), to tell what a path is by the kernel's word, not its name. */
import * as fs from 'node:fs';

export const PROC_SUPER_MAGIC = 0x9fa0;
export const SYSFS_MAGIC = 0x62656572;
export const TRACEFS_MAGIC = 0x74726163;

/** Names of the file systems a message may need to name, by magic (linux/magic.h). */
export const FS_NAMES: Readonly<Record<number, string>> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x858458f6: 'ramfs',
  0x794c7630: 'overlay',
  [PROC_SUPER_MAGIC]: 'proc',
  [SYSFS_MAGIC]: 'sysfs',
};

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
