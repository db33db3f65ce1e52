/**
 * The probes themselves: each times one syscall synchronously, so it measures the kernel and not
 * libuv's thread pool. They run on the mount-locks thread (src/sources/mount-locks/thread.ts), where
 * a kernel stall blocks that thread instead of the exporter's event loop.
 */
import * as fs from 'node:fs';
import type { ProbeRequest } from './protocol';

const buf = Buffer.allocUnsafe(4096);

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Seconds the probe took (per call, for a batch). */
export function timeProbe(req: ProbeRequest): number {
  switch (req.kind) {
    case 'first-read': {
      // open() is not timed: only the first read() takes namespace_sem (seq_file m_start).
      const fd = fs.openSync(req.path, 'r');
      try {
        const start = process.hrtime.bigint();
        fs.readSync(fd, buf, 0, buf.length, null);
        return seconds(start);
      } finally {
        fs.closeSync(fd);
      }
    }
    case 'stat-batch': {
      const start = process.hrtime.bigint();
      for (let i = 0; i < req.count; i++) fs.statSync(req.path);
      return seconds(start) / req.count;
    }
  }
}
