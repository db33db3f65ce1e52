/**
 * ioctls on nsfs files (/proc/PID/ns/mnt): which mount namespace a descriptor refers to, how many
 * mounts it has, and the walk over every mount namespace of the host (Linux 6.12+). None reads a
 * mount table or takes namespace_sem.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UnsupportedError } from '../errors';
import { errnoName } from './errno';
import { refused } from './refuse';
import { close, errno, func } from './libc';

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
      throw new UnsupportedError(
        `NS_GET_MNTNS_ID on ${nsPath}: ${errnoName(errno())} (listmount of another namespace needs Linux 6.11+)`,
      );
    }
    return BigInt(out[0] as bigint | number);
  } finally {
    fs.closeSync(fd);
  }
}

/** _IOR(0xb7, 10/11/12, struct mnt_ns_info): a namespace's mount count and id; the next and previous namespace (6.12+). */
const NS_MNT_GET_INFO = 0x8010b70a;
const NS_MNT_GET_NEXT = 0x8010b70b;
const NS_MNT_GET_PREV = 0x8010b70c;
const MNT_NS_INFO_SIZE_VER0 = 16;

const ioctlInfo = func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *info)');

export interface MountNamespaceInfo {
  /** Mounts in the namespace (nr_mounts): the mountinfo line count, without reading it. */
  mounts: number;
  /** The namespace's 64-bit id, never reused (as a decimal string: it may pass 2^53). */
  id: string;
}

/** Why an nsfs ioctl failed, with its errno name as `code` (ENOTTY: the kernel predates it). */
export class NsfsError extends Error {
  constructor(
    readonly request: string,
    readonly code: string,
  ) {
    super(`${request} failed: ${code}${code === 'ENOTTY' ? ' (Linux 6.12+)' : ''}`);
    this.name = 'NsfsError';
  }
}

/**
 * One nsfs ioctl that fills a struct mnt_ns_info. GET_INFO answers 0; NEXT and PREV answer a new
 * descriptor of that namespace (the caller closes it), or fail ENOENT at the end of the list.
 * MOUNTSTORM_KERNEL_REFUSE=nsfs makes every one fail ENOTTY, as a kernel without them would.
 */
function nsInfo(fd: number, request: number, name: string, buf: Buffer): number {
  if (refused('nsfs')) throw new NsfsError(name, 'ENOTTY');
  buf.fill(0);
  buf.writeUInt32LE(MNT_NS_INFO_SIZE_VER0, 0);
  const rc = ioctlInfo(fd, request, buf) as number;
  if (rc < 0) throw new NsfsError(name, errnoName(errno()));
  return rc;
}

function decode(buf: Buffer): MountNamespaceInfo {
  return { mounts: buf.readUInt32LE(4), id: buf.readBigUInt64LE(8).toString() };
}

/** NS_MNT_GET_INFO on an open nsfs descriptor (/proc/PID/ns/mnt): the namespace's mount count and id. */
export function mountNamespaceInfo(fd: number, buf: Buffer = Buffer.alloc(MNT_NS_INFO_SIZE_VER0)): MountNamespaceInfo {
  nsInfo(fd, NS_MNT_GET_INFO, 'NS_MNT_GET_INFO', buf);
  return decode(buf);
}

/**
 * Every mount namespace of the host (the ones the caller may see: all of them with CAP_SYS_ADMIN),
 * from NS_MNT_GET_PREV to the first and NS_MNT_GET_NEXT to the last, starting at `fd` (left open).
 * `each` sees every namespace's info and an open descriptor of it, closed after it returns. A
 * namespace held only by a bind mount of its nsfs file, or by an open descriptor, is on the list
 * too: no process has to live in it.
 */
export function walkMountNamespaces(fd: number, each: (info: MountNamespaceInfo, fd: number) => void): void {
  const buf = Buffer.alloc(MNT_NS_INFO_SIZE_VER0);
  const step = (from: number, request: number, name: string): number | undefined => {
    try {
      return nsInfo(from, request, name, buf);
    } catch (err) {
      if (err instanceof NsfsError && err.code === 'ENOENT') return undefined;
      throw err;
    }
  };
  // The descriptors NEXT and PREV answer are the kernel's, not Node's: closed with close(2).
  let first = fd;
  for (
    let prev = step(first, NS_MNT_GET_PREV, 'NS_MNT_GET_PREV');
    prev !== undefined;
    prev = step(first, NS_MNT_GET_PREV, 'NS_MNT_GET_PREV')
  ) {
    if (first !== fd) close(first);
    first = prev;
  }
  let cur = first;
  try {
    for (;;) {
      each(mountNamespaceInfo(cur, buf), cur);
      const next = step(cur, NS_MNT_GET_NEXT, 'NS_MNT_GET_NEXT');
      if (cur !== fd) close(cur);
      cur = fd;
      if (next === undefined) break;
      cur = next;
    }
  } finally {
    if (cur !== fd) close(cur);
  }
}
