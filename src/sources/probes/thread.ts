/**
 * Probe worker thread: times syscalls synchronously, so a probe measures the kernel and not libuv's
 * thread pool, and a kernel stall blocks this thread instead of the exporter's event loop.
 */
import { parentPort } from 'node:worker_threads';
import * as fs from 'node:fs';
import type { ProbeRequest, ProbeResponse } from './protocol';
import type { WorkerAnswer } from '../worker-call';

const buf = Buffer.allocUnsafe(4096);

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function handle(req: ProbeRequest): WorkerAnswer<ProbeResponse> {
  switch (req.kind) {
    case 'first-read': {
      // open() is not timed: only the first read() takes namespace_sem (seq_file m_start).
      const fd = fs.openSync(req.path, 'r');
      try {
        const start = process.hrtime.bigint();
        fs.readSync(fd, buf, 0, buf.length, null);
        return { id: req.id, seconds: seconds(start) };
      } finally {
        fs.closeSync(fd);
      }
    }
    case 'stat-batch': {
      const start = process.hrtime.bigint();
      for (let i = 0; i < req.count; i++) fs.statSync(req.path);
      return { id: req.id, seconds: seconds(start) / req.count };
    }
  }
}

parentPort?.on('message', (req: ProbeRequest) => {
  let res: WorkerAnswer<ProbeResponse>;
  try {
    res = handle(req);
  } catch (err) {
    res = { id: req.id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort?.postMessage(res);
});
