/**
 * The trace_pipe reader thread. It drains the instance's trace_pipe (non-blocking, so it never sits
 * in a read the exporter cannot interrupt) every few milliseconds, folds the lines into running
 * totals, and answers the collector's snapshot requests. Parsing here keeps the exporter's event loop
 * free however fast a storm writes events.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parentPort, workerData } from 'node:worker_threads';
import { errnoCode, errorMessage } from '../errors';
import type { WorkerAnswer } from '../worker/call';
import { TraceAggregator } from './aggregate';

export interface ReaderData {
  fd: number;
  buckets: number[];
  topProcesses: number;
  maxInflight: number;
  pollMs: number;
  procfs: string;
}

export type ReaderRequest = { id: number };
export type ReaderResponse = { totals: import('./aggregate').TraceTotals; readError?: string };

const data = workerData as ReaderData;
const CHUNK = 1 << 20;
/** At most this much is parsed per drain, so snapshot requests are answered even under a flood. */
const MAX_DRAIN = 64 << 20;
/** A syscall in flight longer than this lost its exit (task killed, or events overwritten). */
const INFLIGHT_MAX_AGE_S = 300;

const comms = new Map<number, string>();
function resolveComm(tid: number): string | undefined {
  const hit = comms.get(tid);
  if (hit !== undefined) return hit;
  let name: string | undefined;
  try {
    name = fs.readFileSync(path.join(data.procfs, String(tid), 'comm'), 'utf8').trim();
  } catch {
    return undefined;
  }
  if (comms.size >= 4096) comms.clear();
  comms.set(tid, name);
  return name;
}

const agg = new TraceAggregator({ buckets: data.buckets, topProcesses: data.topProcesses, maxInflight: data.maxInflight, resolveComm });
const decoder = new StringDecoder('utf8');
const buf = Buffer.allocUnsafe(CHUNK);
let readError: string | undefined;
let closed = false;

function drain(): void {
  if (closed) return;
  let total = 0;
  while (total < MAX_DRAIN) {
    let n: number;
    try {
      n = fs.readSync(data.fd, buf, 0, CHUNK, null);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EAGAIN' || code === 'EINTR') return;
      // EBADF: the instance was removed and its descriptor closed; nothing more will come.
      readError = errorMessage(err);
      if (code === 'EBADF') closed = true;
      return;
    }
    if (n === 0) return;
    readError = undefined;
    total += n;
    agg.feed(decoder.write(buf.subarray(0, n)));
  }
}

let sinceExpire = 0;
const timer = setInterval(() => {
  drain();
  sinceExpire += data.pollMs;
  if (sinceExpire >= 10_000) {
    sinceExpire = 0;
    agg.expire(INFLIGHT_MAX_AGE_S);
  }
}, data.pollMs);

parentPort?.on('message', (req: ReaderRequest | 'stop') => {
  if (req === 'stop') {
    clearInterval(timer);
    closed = true;
    parentPort?.close();
    return;
  }
  drain();
  const res: WorkerAnswer<ReaderResponse> = { id: req.id, totals: agg.snapshot(), readError };
  parentPort?.postMessage(res);
});
