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
 * read would be a thread-pool round trip per page (~940 per sample at 50k mounts).
 */
export function readProcFileSync(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(256 * 1024);
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
    return buf.subarray(0, total);
  } finally {
    fs.closeSync(fd);
  }
}

export class MountinfoTable implements MountTable {
  readonly method = 'mountinfo';
  private previous: Set<string> | undefined;

  constructor(readonly file: string) {}

  sample(): TableSample {
    const start = process.hrtime.bigint();
    const buf = readProcFileSync(this.file);
    const readSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const tally = new TableTally();
    const current = new Set<string>();
    const previous = this.previous;
    const errors = scanMountinfo(buf.toString('utf8'), this.file, (m) => {
      current.add(m.identity);
      const isNew = previous !== undefined && !previous.has(m.identity);
      tally.add(m.fsType, m.fsType === 'overlay' ? overlayLowerLayers(m.superOptions).length : 0, m.idmapped, isNew);
    });
    let added = 0;
    let removed = 0;
    if (previous) {
      for (const id of current) if (!previous.has(id)) added++;
      removed = previous.size - (current.size - added);
    }
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
