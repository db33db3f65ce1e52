/**
 * listmount(2) and statmount(2) (Linux 6.8+), called through koffi: 64-bit mount ids that are never
 * reused, and one mount's facts by id. Both take namespace_sem for reading, as a mountinfo read
 * does, but for a fraction of the time.
 */
import { MountstormError } from '../errors';
import { errnoName } from './errno';
import { errno, func } from './libc';
import { refused } from './refuse';
import { SYS } from './syscalls';

// syscall(2) is variadic; on x86-64 and arm64 Linux a fixed prototype passes these integer and
// pointer arguments in the same registers, and skips koffi's per-call variadic type parsing.
const syscall4 = func('long syscall(long nr, void *req, void *buf, size_t size, unsigned int flags)');

const MNT_ID_REQ_SIZE_VER0 = 24;
const MNT_ID_REQ_SIZE_VER1 = 32; // + mnt_ns_id (6.11+)

export const STATMOUNT_MNT_BASIC = 0x2;
export const STATMOUNT_MNT_POINT = 0x10;
export const STATMOUNT_FS_TYPE = 0x20;
export const STATMOUNT_MNT_OPTS = 0x80;
export const STATMOUNT_FS_SUBTYPE = 0x100;
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
  /** Where it is mounted, relative to the caller's root, unescaped (STATMOUNT_MNT_POINT only). */
  mntPoint?: string;
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
    if (refused('listmount')) throw new MountApiError('listmount', 'ENOSYS');
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
    if (got & STATMOUNT_MNT_POINT) result.mntPoint = str(108);
    return result;
  }
}
