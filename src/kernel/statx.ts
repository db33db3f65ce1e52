/**
 * statx(2) for the one fact Node's stat does not give: which mount a path is on, by the 64-bit id
 * listmount and statmount take (STATX_MNT_ID_UNIQUE, Linux 6.8+), and whether the path is that
 * mount's root. A path through /proc/PID/root resolves in that process's mount tree, so the mounts
 * of another namespace are found this way without reading its table.
 */
import { errnoName } from './errno';
import { errno, func } from './libc';
import { refused } from './refuse';

const statxFn = func('int statx(int dirfd, const char *path, int flags, unsigned int mask, _Out_ uint8_t *buf)');

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_NO_AUTOMOUNT = 0x800;
const STATX_MNT_ID_UNIQUE = 0x4000;
const STATX_ATTR_MOUNT_ROOT = 0x2000;
/** struct statx is 256 bytes; stx_attributes at 8, stx_attributes_mask at 56, stx_mnt_id at 144. */
const STATX_SIZE = 256;

export interface MountOfPath {
  /** The unique id of the mount the path is on (statmount's and listmount's id). */
  mountId: number;
  /** The path is that mount's root: something is mounted here. */
  mountRoot: boolean;
}

/** Why statx could not say, with its errno name (ENOENT: no such path). */
export class StatxError extends Error {
  constructor(readonly code: string) {
    super(`statx(2) failed: ${code}`);
  }
}

const buf = Buffer.alloc(STATX_SIZE);

/**
 * The mount `p` is on, not following a final symlink; StatxError where the path is missing or
 * unreadable, or code ENOSYS where the kernel gives no unique mount id (before 6.8, or refused as
 * `listmount`, whose ids these are).
 */
export function mountOf(p: string): MountOfPath {
  if (refused('listmount')) throw new StatxError('ENOSYS');
  if ((statxFn(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID_UNIQUE, buf) as number) < 0)
    throw new StatxError(errnoName(errno()));
  if ((buf.readUInt32LE(0) & STATX_MNT_ID_UNIQUE) === 0) throw new StatxError('ENOSYS');
  const attrs = buf.readUInt32LE(8);
  const known = buf.readUInt32LE(56);
  const id = buf.readBigUInt64LE(144);
  return {
    mountId: Number(id),
    mountRoot: (known & STATX_ATTR_MOUNT_ROOT) !== 0 && (attrs & STATX_ATTR_MOUNT_ROOT) !== 0,
  };
}
