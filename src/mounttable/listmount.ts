/**
 * The mount table from listmount(2) and statmount(2) (Linux 6.8+), called through koffi. Mount ids
 * there are 64-bit and never reused, so churn between readings is exact. Only mounts that are new
 * since the previous reading are looked up with statmount; the rest of a reading is one listmount
 * call per 32k ids and a merge of two sorted id lists. Both calls take namespace_sem for reading,
 * as a mountinfo read does, but for a fraction of the time.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MountstormError, UnsupportedError } from '../errors';
import { overlayLowerLayers } from '../procfs/mountinfo';
import { SYS } from '../storm/syscalls';
import { errno, libc } from '../sys/libc';
import { errnoName } from '../tracefs/aggregate';
import { TableTally, type MountTable, type TableSample } from './table';

// syscall(2) is variadic; on x86-64 and arm64 Linux a fixed prototype passes these integer and
// pointer arguments in the same registers, and skips koffi's per-call variadic type parsing.
const syscall4 = libc.func('long syscall(long nr, void *req, void *buf, size_t size, unsigned int flags)');
const ioctlU64 = libc.func('int ioctl(int fd, unsigned long request, _Out_ uint64_t *out)');

const MNT_ID_REQ_SIZE_VER0 = 24;
const MNT_ID_REQ_SIZE_VER1 = 32; // + mnt_ns_id (6.11+)
/** _IOR(0xb7, 5, __u64): the 64-bit id of the mount namespace an nsfs descriptor refers to. */
const NS_GET_MNTNS_ID = 0x8008b705;

export const STATMOUNT_MNT_BASIC = 0x2;
export const STATMOUNT_FS_TYPE = 0x20;
export const STATMOUNT_MNT_OPTS = 0x80;
export const STATMOUNT_FS_SUBTYPE = 0x100;
const MOUNT_ATTR_IDMAP = 0x00100000;
/** struct statmount: the fixed part before `str[]` (uapi/linux/mount.h). */
const STATMOUNT_FIXED = 512;
const PAGE_IDS = 32_768;

/** A syscall that failed, with its errno name as `code`. */
export class MountApiError extends MountstormError {
  constructor(
    readonly syscall: string,
    readonly code: string,
  ) {
    super(`${syscall}(2) failed: ${code}`);
  }
}

export interface StatmountResult {
  fsType: string;
  subtype?: string;
  mntAttr: number;
  mntIdOld: number;
  /** Super options without the leading rw/ro, escaped as in mountinfo (STATMOUNT_MNT_OPTS only). */
  opts?: string;
}

/** listmount/statmount against one mount namespace: 0n is the caller's own. */
export class MountApi {
  private readonly req = Buffer.alloc(MNT_ID_REQ_SIZE_VER1);
  private readonly page = Buffer.alloc(PAGE_IDS * 8);
  private readonly pageWords = new Uint32Array(this.page.buffer, this.page.byteOffset, PAGE_IDS * 2);
  private statBuf = Buffer.alloc(4096);
  private subtypeUnsupported = false;

  constructor(readonly nsId: bigint) {}

  /** struct mnt_id_req for `mntId` (a number below 2^53, or LSMT_ROOT) and `param`, without allocating. */
  private request(mntId: number | 'root', param: number): Buffer {
    const r = this.req;
    r.writeUInt32LE(this.nsId === 0n ? MNT_ID_REQ_SIZE_VER0 : MNT_ID_REQ_SIZE_VER1, 0);
    r.writeUInt32LE(0, 4);
    if (mntId === 'root') {
      r.writeUInt32LE(0xffffffff, 8);
      r.writeUInt32LE(0xffffffff, 12);
    } else {
      r.writeUInt32LE(mntId % 0x1_0000_0000, 8);
      r.writeUInt32LE(Math.floor(mntId / 0x1_0000_0000), 12);
    }
    r.writeUInt32LE(param % 0x1_0000_0000, 16);
    r.writeUInt32LE(Math.floor(param / 0x1_0000_0000), 20);
    r.writeBigUInt64LE(this.nsId, 24);
    return r;
  }

  /** Ids are below 2^53 (they start at 2^31), so exact as numbers. */
  private ids = new Float64Array(PAGE_IDS);

  /** Every mount id in the namespace, ascending: a view valid until the next call. */
  list(): Float64Array {
    let out = this.ids;
    let n = 0;
    let last = 0;
    for (;;) {
      const got = Number(syscall4(SYS.listmount, this.request('root', last), this.page, PAGE_IDS, 0));
      if (got < 0) throw new MountApiError('listmount', errnoName(errno()));
      if (n + got > out.length) {
        const bigger = new Float64Array(Math.max(out.length * 2, n + got));
        bigger.set(out.subarray(0, n));
        out = bigger;
        this.ids = out;
      }
      const w = this.pageWords;
      for (let i = 0; i < got; i++) out[n + i] = (w[2 * i + 1] as number) * 0x1_0000_0000 + (w[2 * i] as number);
      n += got;
      if (got < PAGE_IDS) break;
      last = out[n - 1] as number;
    }
    const ids = out.subarray(0, n);
    // Ascending since 6.11 (an rbtree by id); older kernels walked a list: sort when needed.
    for (let i = 1; i < n; i++) {
      if ((ids[i] as number) <= (ids[i - 1] as number)) {
        ids.sort();
        break;
      }
    }
    return ids;
  }

  /** statmount of one mount, or undefined when it is gone (unmounted since it was listed). */
  stat(id: number, mask: number): StatmountResult | undefined {
    const want = mask & STATMOUNT_FS_TYPE && !this.subtypeUnsupported ? mask | STATMOUNT_FS_SUBTYPE : mask;
    for (;;) {
      const rc = Number(syscall4(SYS.statmount, this.request(id, want), this.statBuf, this.statBuf.length, 0));
      if (rc >= 0) break;
      const code = errnoName(errno());
      if (code === 'ENOENT') return undefined;
      if (code === 'EOVERFLOW' && this.statBuf.length < 1 << 20) {
        this.statBuf = Buffer.alloc(this.statBuf.length * 4);
        continue;
      }
      if (code === 'EINVAL' && want & STATMOUNT_FS_SUBTYPE) {
        this.subtypeUnsupported = true; // before 6.13
        return this.stat(id, mask);
      }
      throw new MountApiError('statmount', code);
    }
    const b = this.statBuf;
    const got = b.readUInt32LE(8); // the mask's low word: every flag asked for is below 2^32
    const str = (offsetField: number): string => {
      const start = STATMOUNT_FIXED + b.readUInt32LE(offsetField);
      const end = b.indexOf(0, start);
      return b.toString('utf8', start, end < 0 ? b.length : end);
    };
    const result: StatmountResult = {
      fsType: got & STATMOUNT_FS_TYPE ? str(36) : '',
      mntAttr: b.readUInt32LE(64), // MOUNT_ATTR_* flags all sit in the low word
      mntIdOld: b.readUInt32LE(56),
    };
    if (got & STATMOUNT_FS_SUBTYPE) {
      const sub = str(120);
      if (sub !== '') result.subtype = sub;
    }
    if (got & STATMOUNT_MNT_OPTS) result.opts = str(4);
    return result;
  }
}

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

/** Per-mount facts kept between readings, in arrays parallel to the sorted id list (the first `count` entries). */
interface Known {
  count: number;
  ids: Float64Array;
  type: Uint16Array;
  layers: Uint16Array;
  idmapped: Uint8Array;
}

export class ListmountTable implements MountTable {
  readonly method = 'listmount';
  private known: Known | undefined;
  /** The arrays of the reading before `known`, written over by the next one. */
  private spare: Known | undefined;
  private perType: Uint32Array = new Uint32Array(16);
  private idmappedPerType: Uint32Array = new Uint32Array(16);
  private readonly typeNames: string[] = [];
  private readonly typeIndex = new Map<string, number>();
  /** statmount calls made (for the exporter's own cost). */
  lookups = 0;

  constructor(private readonly api: MountApi) {}

  private typeId(name: string): number {
    let i = this.typeIndex.get(name);
    if (i === undefined) {
      i = this.typeNames.length;
      this.typeNames.push(name);
      this.typeIndex.set(name, i);
    }
    return i;
  }

  /** The arrays the next reading is written into: the previous reading's spare set, grown when too small. */
  private scratch(n: number): Known {
    const s = this.spare;
    if (s && s.ids.length >= n) return s;
    const size = Math.ceil(Math.max(n, 1024) * 1.25);
    return { count: 0, ids: new Float64Array(size), type: new Uint16Array(size), layers: new Uint16Array(size), idmapped: new Uint8Array(size) };
  }

  sample(): TableSample {
    const start = process.hrtime.bigint();
    const ids = this.api.list();
    const prev = this.known;
    const next = this.scratch(ids.length);
    const tally = new TableTally();
    // Counted by type index: only overlays need a per-mount look (layers, and whether it is new).
    if (this.perType.length < this.typeNames.length + 1) this.perType = new Uint32Array(this.typeNames.length + 16);
    if (this.idmappedPerType.length < this.perType.length) this.idmappedPerType = new Uint32Array(this.perType.length);
    let perType: Uint32Array = this.perType.fill(0);
    let idmappedPerType: Uint32Array = this.idmappedPerType.fill(0);
    const overlay = this.typeId('overlay');
    let kept = 0;
    let added = 0;
    let removed = 0;
    let p = 0;
    const pn = prev?.count ?? 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      while (prev && p < pn && (prev.ids[p] as number) < id) {
        p++;
        removed++;
      }
      const isNew = !(prev && p < pn && prev.ids[p] === id);
      if (!isNew) {
        next.ids[kept] = id;
        next.type[kept] = prev.type[p] as number;
        next.layers[kept] = prev.layers[p] as number;
        next.idmapped[kept] = prev.idmapped[p] as number;
        p++;
      } else {
        const st = this.api.stat(id, STATMOUNT_MNT_BASIC | STATMOUNT_FS_TYPE);
        this.lookups++;
        if (!st) continue; // unmounted between listmount and statmount: not part of this reading
        const fsType = st.subtype ? `${st.fsType}.${st.subtype}` : st.fsType;
        let layers = 0;
        if (fsType === 'overlay') {
          const opts = this.api.stat(id, STATMOUNT_MNT_OPTS)?.opts ?? '';
          this.lookups++;
          layers = overlayLowerLayers(opts).length;
        }
        next.ids[kept] = id;
        next.type[kept] = this.typeId(fsType);
        next.layers[kept] = Math.min(layers, 0xffff);
        next.idmapped[kept] = st.mntAttr & MOUNT_ATTR_IDMAP ? 1 : 0;
        if (prev) added++;
        if (this.typeNames.length > perType.length) {
          perType = this.grow(perType);
          idmappedPerType = this.grow(idmappedPerType);
        }
      }
      const type = next.type[kept] as number;
      if (type === overlay) tally.add('overlay', next.layers[kept] as number, next.idmapped[kept] === 1, prev !== undefined && isNew);
      else {
        perType[type] = (perType[type] as number) + 1;
        idmappedPerType[type] = (idmappedPerType[type] as number) + (next.idmapped[kept] as number);
      }
      kept++;
    }
    removed += pn - p;
    for (let t = 0; t < this.typeNames.length; t++) if (t !== overlay) tally.addMany(this.typeNames[t] as string, perType[t] as number, idmappedPerType[t] as number);
    next.count = kept;
    this.perType = perType;
    this.idmappedPerType = idmappedPerType;
    this.spare = prev;
    this.known = next;
    const readSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { method: this.method, ...tally, added, removed, readSeconds, parseErrors: 0 };
  }

  private grow(a: Uint32Array): Uint32Array {
    const b = new Uint32Array(this.typeNames.length + 16);
    b.set(a);
    return b;
  }
}
