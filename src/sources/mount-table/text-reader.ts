/**
 * The mount table from /proc/PID/mountinfo text, on every kernel. Mount ids there are 32-bit and
 * reused, so identity across readings is the first five fields (id, parent, device, root, mount
 * point) and churn is a lower bound: a mount replaced by an identical one in between is missed.
 */
import * as fs from 'node:fs';
import type { ParseError } from '../../errors';

import { isRuntimeTempMountPoint } from './runtime-temp';
import { TableTally, type MountTable, type TableSample } from './reading';
import { newMountFacts, scanMountinfoLine } from '../../procfs/mountinfo/scan';
import { overlayLowerLayerCount } from '../../procfs/mountinfo/overlay';

/**
 * Reads a whole pseudo-file synchronously (run it in a worker). /proc sizes are 0, so read until EOF;
 * seq_file hands out about a page per read(), so the reads go straight into one growing buffer
 * (doubling): a 50k-mount table is ~940 reads and a handful of copies. Synchronous, because an async
 * read would be a thread-pool round trip per page (~940 per sample at 50k mounts). `buf` is reused
 * when it is large enough (the result is a view of it, valid until the next call with it); the
 * buffer used is returned for the next call.
 */
export function readProcFileSync(
  file: string,
  buf: Buffer = Buffer.allocUnsafe(256 * 1024),
): { data: Buffer; buf: Buffer } {
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
/** A line's flags: the mount is idmapped; its mount point is a container runtime's temporary one. */
const FLAG_IDMAPPED = 1;
const FLAG_TEMP = 2;

/** The mount point field of a mountinfo line, still escaped: from the fourth space to the identity's end (the fifth field). */
function mountPointOf(line: string, identityEnd: number): string {
  let at = -1;
  for (let spaces = 0; spaces < 4; spaces++) {
    at = line.indexOf(' ', at + 1);
    if (at < 0 || at >= identityEnd) return '';
  }
  return line.slice(at + 1, identityEnd);
}
/** Bytes compared at once where a reading follows the previous one (about 50 lines). */
const BLOCK = 4096;

/** Grows a column to `size`, keeping its contents (`fill` for the new part). */
function grown<T extends Int32Array | Uint8Array | Float64Array>(a: T, size: number, fill = 0): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  if (fill) b.fill(fill, a.length);
  b.set(a);
  return b;
}

/**
 * One reading: its bytes, and its lines in order (where each is, its 1-based line number, its mount
 * id, the byte length of its identity, the first five fields, and what the scan found in it), with
 * each id's line position. A line that did not parse is kept too, with id -1, so that a later
 * reading that takes its stretch as it was still reports it.
 */
class Reading {
  data: Buffer = Buffer.alloc(0);
  n = 0;
  id = new Float64Array(1024);
  lineNo = new Int32Array(1024);
  start = new Int32Array(1024);
  length = new Int32Array(1024);
  identityLength = new Int32Array(1024);
  /** FLAG_IDMAPPED | FLAG_TEMP of each line. */
  flags = new Uint8Array(1024);
  /** Lines with FLAG_TEMP. */
  temps = 0;
  /** Lower layers of an overlay line. */
  layers = new Int32Array(1024);
  fsType: string[] = [];
  /** Line position by mount id (-1: none); ids beyond DENSE_IDS in `sparse`. */
  private at = new Int32Array(1024).fill(-1);
  private readonly sparse = new Map<number, number>();
  /** Distinct mount ids. */
  count = 0;

  reset(data: Buffer): void {
    for (let k = 0; k < this.n; k++) {
      const id = this.id[k] as number;
      if (id >= 0 && id < DENSE_IDS) this.at[id] = -1;
    }
    this.sparse.clear();
    this.n = 0;
    this.count = 0;
    this.temps = 0;
    this.data = data;
  }

  add(
    lineNo: number,
    id: number,
    start: number,
    length: number,
    identityLength: number,
    fsType: string,
    flags: number,
    layers: number,
  ): void {
    const k = this.n++;
    if (k === this.id.length) {
      const size = k * 2;
      this.id = grown(this.id, size);
      this.lineNo = grown(this.lineNo, size);
      this.start = grown(this.start, size);
      this.length = grown(this.length, size);
      this.identityLength = grown(this.identityLength, size);
      this.flags = grown(this.flags, size);
      this.layers = grown(this.layers, size);
    }
    this.id[k] = id;
    this.lineNo[k] = lineNo;
    this.start[k] = start;
    this.length[k] = length;
    this.identityLength[k] = identityLength;
    this.flags[k] = flags;
    if (flags & FLAG_TEMP) this.temps++;
    this.layers[k] = layers;
    this.fsType[k] = fsType;
    if (id < 0) return;
    if (id >= DENSE_IDS) {
      if (!this.sparse.has(id)) this.count++;
      this.sparse.set(id, k);
      return;
    }
    if (id >= this.at.length) this.at = grown(this.at, Math.min(DENSE_IDS, Math.max(id + 1, this.at.length * 2)), -1);
    if ((this.at[id] as number) < 0) this.count++;
    this.at[id] = k;
  }

  /** The position of id's line, or -1. */
  lineOf(id: number): number {
    if (id >= DENSE_IDS) return this.sparse.get(id) ?? -1;
    return id < this.at.length ? (this.at[id] as number) : -1;
  }

  /** Whether data[from, from + length) equals this reading's bytes at `at`. */
  same(data: Buffer, from: number, at: number, length: number): boolean {
    return at + length <= this.data.length && data.compare(this.data, at, at + length, from, from + length) === 0;
  }
}

/** The mount id a line starts with (1 to 15 digits, then a space), or -1. */
function leadingId(data: Buffer, start: number, end: number): number {
  let id = 0;
  let i = start;
  for (; i < end; i++) {
    const c = data[i] as number;
    if (c === 32) break;
    if (c < 48 || c > 57) return -1;
    id = id * 10 + c - 48;
  }
  return i === start || i === end || i - start > 15 ? -1 : id;
}

export class MountinfoTable implements MountTable {
  readonly method = 'mountinfo';
  /**
   * The previous reading. The kernel writes a table in the same order every time, so most of a
   * reading is the previous one's bytes: those stretches are compared a block at a time (memcmp) and
   * their lines taken as they were, with no scan and no string. Lines that differ are decoded and
   * scanned, and their identity (the first five fields) compared with the same id's previous line.
   */
  private previous: Reading | undefined;
  private current = new Reading();
  /** Two read buffers, swapped each reading (the previous reading's bytes stay valid); grown once. */
  private buf: Buffer | undefined;
  private spareBuf: Buffer | undefined;
  private readonly facts = newMountFacts();

  constructor(readonly file: string) {}

  sample(): TableSample {
    const started = process.hrtime.bigint();
    const read = readProcFileSync(this.file, this.buf);
    const readSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.buf = this.spareBuf;
    this.spareBuf = read.buf;
    const data = read.data;
    const cur = this.current;
    cur.reset(data);
    const prev = this.previous;
    const tally = new TableTally();
    const errors: ParseError[] = [];
    let kept = 0;
    // Types come in runs (a storm's binds, a node's overlays): counted per run, not per line.
    let runType = '';
    let runN = 0;
    let runIdmapped = 0;
    const count = (fsType: string, idmapped: boolean, layers: number, isNew: boolean) => {
      if (fsType === 'overlay') {
        tally.add('overlay', layers, idmapped, isNew);
        return;
      }
      if (fsType !== runType) {
        tally.addMany(runType, runN, runIdmapped);
        runType = fsType;
        runN = 0;
        runIdmapped = 0;
      }
      runN++;
      if (idmapped) runIdmapped++;
    };
    const end = data.length;
    let lineNo = 0;
    let q = 0;
    /** The previous reading's line expected next: where the last line that matched was, plus one. */
    let k = 0;
    while (q < end) {
      if (prev && k < prev.n) {
        // In step with the previous reading: compare a block; its whole lines are as they were.
        const p = prev.start[k] as number;
        const len = Math.min(BLOCK, end - q, prev.data.length - p);
        if (len > 0 && prev.same(data, q, p, len)) {
          const k0 = k;
          // A line counts when its newline is in the block too.
          while (k < prev.n && (prev.start[k] as number) + (prev.length[k] as number) < p + len) {
            const from = q + (prev.start[k] as number) - p;
            const at = lineNo + (prev.lineNo[k] as number) - (prev.lineNo[k0] as number) + 1;
            const id = prev.id[k] as number;
            if (id < 0) {
              // It did not parse then either: say so again, with its line number now.
              this.scanInto(cur, data, from, from + (prev.length[k] as number), at, errors);
            } else {
              kept++;
              cur.add(
                at,
                id,
                from,
                prev.length[k] as number,
                prev.identityLength[k] as number,
                prev.fsType[k] as string,
                prev.flags[k] as number,
                prev.layers[k] as number,
              );
              count(
                prev.fsType[k] as string,
                ((prev.flags[k] as number) & FLAG_IDMAPPED) !== 0,
                prev.layers[k] as number,
                false,
              );
            }
            k++;
          }
          if (k > k0) {
            // The next line starts after the last one taken (shifted from where it was).
            const last = k - 1;
            lineNo += (prev.lineNo[last] as number) - (prev.lineNo[k0] as number) + 1;
            q += (prev.start[last] as number) + (prev.length[last] as number) + 1 - p;
            continue;
          }
        }
      }
      let le = data.indexOf(10, q);
      if (le < 0) le = end;
      lineNo++;
      const from = q;
      q = le + 1;
      if (le === from) continue;
      const id = leadingId(data, from, le);
      const j = prev && id >= 0 ? prev.lineOf(id) : -1;
      if (prev && j >= 0 && prev.length[j] === le - from && prev.same(data, from, prev.start[j] as number, le - from)) {
        // The same id's line, moved: as it was.
        kept++;
        k = j + 1;
        cur.add(
          lineNo,
          id,
          from,
          le - from,
          prev.identityLength[j] as number,
          prev.fsType[j] as string,
          prev.flags[j] as number,
          prev.layers[j] as number,
        );
        count(
          prev.fsType[j] as string,
          ((prev.flags[j] as number) & FLAG_IDMAPPED) !== 0,
          prev.layers[j] as number,
          false,
        );
        continue;
      }
      // New or changed: decode and scan it.
      if (!this.scanInto(cur, data, from, le, lineNo, errors)) continue;
      const facts = this.facts;
      const identity = cur.identityLength[cur.n - 1] as number;
      const was = prev ? prev.lineOf(facts.mountId) : -1;
      const same =
        prev !== undefined &&
        was >= 0 &&
        prev.identityLength[was] === identity &&
        prev.same(data, from, prev.start[was] as number, identity);
      if (same) kept++;
      if (was >= 0) k = was + 1;
      count(facts.fsType, facts.idmapped, cur.layers[cur.n - 1] as number, prev !== undefined && !same);
    }
    tally.addMany(runType, runN, runIdmapped);
    const idmappedIds: number[] = [];
    if (tally.idmapped > 0)
      for (let i = 0; i < cur.n; i++)
        if ((cur.flags[i] as number) & FLAG_IDMAPPED && (cur.id[i] as number) >= 0)
          idmappedIds.push(cur.id[i] as number);
    const tempIds: number[] = [];
    if (cur.temps > 0)
      for (let i = 0; i < cur.n; i++)
        if ((cur.flags[i] as number) & FLAG_TEMP && (cur.id[i] as number) >= 0) tempIds.push(cur.id[i] as number);
    // max(0): a text repeating an id (never the kernel's) must not make churn negative.
    const added = prev ? Math.max(0, cur.count - kept) : 0;
    const removed = prev ? Math.max(0, prev.count - kept) : 0;
    this.current = prev ?? new Reading();
    this.previous = cur;
    return {
      method: this.method,
      ...tally,
      idmappedIds,
      tempIds,
      added,
      removed,
      readSeconds,
      bytes: data.length,
      parseErrors: errors.length,
      firstParseError: errors[0]?.message,
    };
  }

  /**
   * Decodes and scans the line data[from, to) into this.facts and adds it to `reading`; false when
   * it did not parse (its error pushed, the line kept as one that did not parse).
   */
  private scanInto(
    reading: Reading,
    data: Buffer,
    from: number,
    to: number,
    lineNo: number,
    errors: ParseError[],
  ): boolean {
    const line = data.toString('utf8', from, to);
    const facts = this.facts;
    const err = scanMountinfoLine(line, 0, line.length, lineNo, this.file, facts);
    if (err) {
      errors.push(err);
      reading.add(lineNo, -1, from, to - from, 0, '', 0, 0);
      return false;
    }
    // Offsets in the line are characters; the identity is compared as bytes: up to the fifth space
    // (spaces in fields are escaped, and a byte that is not UTF-8 decodes to something else).
    let identity = facts.identityEnd;
    if (line.length !== to - from) {
      let spaces = 0;
      for (identity = 0; from + identity < to; identity++) if (data[from + identity] === 32 && ++spaces === 5) break;
    }
    const layers =
      facts.fsType === 'overlay' ? overlayLowerLayerCount(line.slice(facts.superStart, facts.superEnd)) : 0;
    const flags =
      (facts.idmapped ? FLAG_IDMAPPED : 0) |
      (isRuntimeTempMountPoint(mountPointOf(line, facts.identityEnd)) ? FLAG_TEMP : 0);
    reading.add(lineNo, facts.mountId, from, to - from, identity, facts.fsType, flags, layers);
    return true;
  }
}
