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

export class MountinfoTable implements MountTable {
  readonly method = 'mountinfo';
  /**
   * The previous reading: identity by mount id. Ids are unique within a reading and the kernel hands
   * out the lowest free one, so an array indexed by id is dense; a reading compares strings only for
   * the same id and never hashes them.
   */
  private previous: string[] | undefined;
  private previousCount = 0;
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
    const current: string[] = [];
    const previous = this.previous;
    let count = 0;
    let kept = 0;
    // Types come in runs (a storm's binds, a node's overlays): counted per run, not per line.
    let runType = '';
    let runN = 0;
    let runIdmapped = 0;
    const errors = scanMountinfo(buf.toString('utf8'), this.file, (m) => {
      if (current[m.mountId] === undefined) count++;
      current[m.mountId] = m.identity;
      const same = previous !== undefined && previous[m.mountId] === m.identity;
      if (same) kept++;
      if (m.fsType === 'overlay') {
        tally.add('overlay', overlayLowerLayers(m.superOptions).length, m.idmapped, previous !== undefined && !same);
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
    const added = previous ? Math.max(0, count - kept) : 0;
    const removed = previous ? Math.max(0, this.previousCount - kept) : 0;
    this.previous = current;
    this.previousCount = count;
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
