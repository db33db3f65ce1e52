/**
 * The mount table from /proc/PID/mountinfo text, on every kernel. Mount ids there are 32-bit and
 * reused, so identity across readings is the first five fields (id, parent, device, root, mount
 * point) and churn is a lower bound: a mount replaced by an identical one in between is missed.
 */
import * as fs from 'node:fs';
import { overlayLowerLayers, scanMountinfo } from '../procfs/mountinfo';
import { TableTally, type MountTable, type TableSample } from './table';

/**
 * Reads a whole pseudo-file synchronously (run it in a worker). /proc sizes are 0, so read until EOF;
 * seq_file hands out about a page per read(), so the reads go straight into one growing buffer
 * (doubling): a 50k-mount table is ~940 reads and a handful of copies. Synchronous, because an async
 * read would be a thread-pool round trip per page (~940 per sample at 50k mounts). `buf` is reused
 * when it is large enough (the result is a view of it, valid until the next call with it); the
 * buffer used is returned for the next call.
 */
export function readProcFileSync(file: string, buf: Buffer = Buffer.allocUnsafe(256 * 1024)): { data: Buffer; buf: Buffer } {
  const fd = fs.openSync(file, 'r');
  try {
    let total = 0;
    for (;;) {
      if (buf.length - total < 64 * 1024) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
    }
    return { data: buf.subarray(0, total), buf };
  } finally {
    fs.closeSync(fd);
  }
}

/** Ids beyond this go to a Map: mount ids are the lowest free ones, so real tables stay far below. */
const DENSE_IDS = 1 << 21;

/** Where each mount id's identity is in one reading's text: [start, start + length), by id. */
class IdentityRanges {
  start = new Int32Array(1024).fill(-1);
  length = new Int32Array(1024);
  sparse = new Map<number, [number, number]>();
  count = 0;
  text = '';

  reset(text: string): void {
    this.start.fill(-1);
    this.sparse.clear();
    this.count = 0;
    this.text = text;
  }

  set(id: number, start: number, length: number): void {
    if (id >= DENSE_IDS) {
      if (!this.sparse.has(id)) this.count++;
      this.sparse.set(id, [start, length]);
      return;
    }
    if (id >= this.start.length) {
      const size = Math.min(DENSE_IDS, Math.max(id + 1, this.start.length * 2));
      const s = new Int32Array(size).fill(-1);
      s.set(this.start);
      const l = new Int32Array(size);
      l.set(this.length);
      this.start = s;
      this.length = l;
    }
    if ((this.start[id] as number) < 0) this.count++;
    this.start[id] = start;
    this.length[id] = length;
  }

  /** Whether id's identity here is text[start, start + length). */
  same(id: number, text: string, start: number, length: number): boolean {
    let at: number;
    if (id >= DENSE_IDS) {
      const r = this.sparse.get(id);
      if (!r || r[1] !== length) return false;
      at = r[0];
    } else {
      if (id >= this.start.length || this.length[id] !== length) return false;
      at = this.start[id] as number;
      if (at < 0) return false;
    }
    // A slice is a view (no copy), and startsWith compares natively: faster than charCodeAt in a loop.
    return this.text.startsWith(text.slice(start, start + length), at);
  }
}

export class MountinfoTable implements MountTable {
  readonly method = 'mountinfo';
  /**
   * The previous reading's identities by mount id (ids are unique within a reading, and the kernel
   * hands out the lowest free one, so they are dense): a reading compares each entry in place with
   * the same id's, and allocates no string per line. Two sets, swapped each reading.
   */
  private previous: IdentityRanges | undefined;
  private spare = new IdentityRanges();
  /** Grown to the table's size once, then reused: no fresh 256 KiB+ allocation per reading. */
  private buf: Buffer | undefined;

  constructor(readonly file: string) {}

  sample(): TableSample {
    const start = process.hrtime.bigint();
    const read = readProcFileSync(this.file, this.buf);
    this.buf = read.buf;
    const buf = read.data;
    const readSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const tally = new TableTally();
    const text = buf.toString('utf8');
    const current = this.spare;
    current.reset(text);
    const previous = this.previous;
    let kept = 0;
    // Types come in runs (a storm's binds, a node's overlays): counted per run, not per line.
    let runType = '';
    let runN = 0;
    let runIdmapped = 0;
    const errors = scanMountinfo(text, this.file, (m) => {
      const length = m.identityEnd - m.start;
      current.set(m.mountId, m.start, length);
      const same = previous !== undefined && previous.same(m.mountId, text, m.start, length);
      if (same) kept++;
      if (m.fsType === 'overlay') {
        tally.add('overlay', overlayLowerLayers(text.slice(m.superStart, m.superEnd)).length, m.idmapped, previous !== undefined && !same);
        return;
      }
      if (m.fsType !== runType) {
        tally.addMany(runType, runN, runIdmapped);
        runType = m.fsType;
        runN = 0;
        runIdmapped = 0;
      }
      runN++;
      if (m.idmapped) runIdmapped++;
    });
    tally.addMany(runType, runN, runIdmapped);
    // max(0): a text repeating an id (never the kernel's) must not make churn negative.
    const added = previous ? Math.max(0, current.count - kept) : 0;
    const removed = previous ? Math.max(0, previous.count - kept) : 0;
    this.spare = previous ?? new IdentityRanges();
    this.previous = current;
    return {
      method: this.method,
      ...tally,
      added,
      removed,
      readSeconds,
      bytes: buf.length,
      parseErrors: errors.length,
      firstParseError: errors[0]?.message,
    };
  }
}
