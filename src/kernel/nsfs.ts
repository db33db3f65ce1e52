/**
 * ioctls on nsfs files (/proc/PID/ns/mnt): which mount namespace a descriptor refers to.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UnsupportedError } from '../errors';
import { errnoName } from './errno';
import { errno, func } from './libc';

const ioctlU64 = func('int ioctl(int fd, unsigned long request, _Out_ uint64_t *out)');

/** _IOR(0xb7, 5, __u64): the 64-bit id of the mount namespace an nsfs descriptor refers to (6.11+). */
const NS_GET_MNTNS_ID = 0x8008b705;

/**
 * The namespace id for listmount, from the watched mountinfo's /proc/PID: 0n when it is the
 * exporter's own namespace, else NS_GET_MNTNS_ID on /proc/PID/ns/mnt (6.11+). Throws
 * UnsupportedError saying why listmount cannot watch it.
 */
export function namespaceIdFor(mountinfoPath: string): bigint {
  const nsPath = path.join(path.dirname(mountinfoPath), 'ns', 'mnt');
  const theirs = fs.statSync(nsPath);
  const ours = fs.statSync('/proc/thread-self/ns/mnt');
  if (theirs.ino === ours.ino && theirs.dev === ours.dev) return 0n;
  const fd = fs.openSync(nsPath, 'r');
  try {
    const out = [0n];
    if ((ioctlU64(fd, NS_GET_MNTNS_ID, out) as number) < 0) {
      throw new UnsupportedError(`NS_GET_MNTNS_ID on ${nsPath}: ${errnoName(errno())} (listmount of another namespace needs Linux 6.11+)`);
    }
    return BigInt(out[0] as bigint | number);
  } finally {
    fs.closeSync(fd);
  }
}
