/**
 * The trace reader thread. It drains the instance every few milliseconds (non-blocking, so it never
 * sits in a read the exporter cannot interrupt), folds the events into running totals, and answers
 * the collector's snapshot requests. Decoding here keeps the exporter's event loop free however fast
 * a storm writes events.
 *
 * Two sources: the binary pages of every CPU's trace_pipe_raw (the default; no formatting in the
 * kernel), or the text of trace_pipe. Raw pages come per CPU, so each drain merges them by time
 * before accounting (TimeMerge): a task that migrates between its syscall's entry and exit, or
 * sleeps on a lock on one CPU and wakes on another, is paired right.
 */
import * as fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parentPort, workerData } from 'node:worker_threads';
import { errnoCode, errorMessage, ParseError } from '../errors';
import type { WorkerAnswer } from '../worker/call';
import { TraceAggregator, type TraceTotals } from './aggregate';
import type { TraceSource } from './instance';
import { TaskNames } from './names';
import { accountEvent, decodePage, TimeMerge, type RawBatch } from './raw';

export interface ReaderData {
  source: TraceSource;
  /** Event times are CLOCK_MONOTONIC (trace_clock mono), comparable with process.hrtime. */
  monoClock: boolean;
  /** The tracefs mount, for saved_cmdlines. */
  tracefsDir: string;
  buckets: number[];
  topProcesses: number;
  maxInflight: number;
  pollMs: number;
  procfs: string;
}

export type ReaderRequest = { id: number };
export type ReaderResponse = { totals: TraceTotals; readError?: string };

const data = workerData as ReaderData;
const CHUNK = 1 << 20;
/** At most this much is read per drain, so snapshot requests are answered even under a flood. */
const MAX_DRAIN = 64 << 20;
/** A syscall in flight longer than this lost its exit (task killed, or events overwritten). */
const INFLIGHT_MAX_AGE_S = 300;

/** Names are asked for again after this long (see TaskNames). */
const NAME_TTL_MS = 1000;
let namesAt = 0;
const names = new TaskNames(data.procfs, data.tracefsDir, data.source.format === 'raw');

function forgetNames(): void {
  const now = Date.now();
  if (now - namesAt < NAME_TTL_MS) return;
  namesAt = now;
  names.expire();
  agg.forgetNames();
}

const agg = new TraceAggregator({
  buckets: data.buckets,
  topProcesses: data.topProcesses,
  maxInflight: data.maxInflight,
  resolveComm: (tid) => names.resolve(tid),
  // An exec or PR_SET_NAME, in time order with the syscalls: the task's later events carry its new name.
  onName: (tid, comm) => names.rename(tid, comm),
});
let readError: string | undefined;
let closed = false;

/** Reads until EAGAIN or `budget` bytes, handing each read's length to `chunk`; returns the bytes read. */
function readAll(fd: number, buf: Buffer, budget: number, chunk: (n: number) => void): number {
  let total = 0;
  while (total < budget) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = errnoCode(err);
      // ENODEV: this CPU's buffer is offline (a CPU taken down); it has nothing to read.
      if (code === 'EAGAIN' || code === 'EINTR' || code === 'ENODEV') break;
      // EBADF: the instance was removed and its descriptor closed; nothing more will come.
      readError = errorMessage(err);
      if (code === 'EBADF') closed = true;
      break;
    }
    if (n === 0) break;
    readError = undefined;
    total += n;
    chunk(n);
  }
  return total;
}

function textDrain(fd: number): () => void {
  const decoder = new StringDecoder('utf8');
  const buf = Buffer.allocUnsafe(CHUNK);
  return () => {
    readAll(fd, buf, MAX_DRAIN, (n) => agg.feed(decoder.write(buf.subarray(0, n))));
  };
}

function emit(b: RawBatch, i: number): void {
  accountEvent(agg, b, i);
}

function rawDrain(source: Extract<TraceSource, { format: 'raw' }>): () => void {
  const buf = Buffer.allocUnsafe(source.pageSize);
  const merge = new TimeMerge(data.monoClock);
  return () => {
    const now = Number(process.hrtime.bigint()) / 1e9;
    let budget = MAX_DRAIN;
    for (const { cpu, fd } of source.cpus) {
      if (closed) break;
      merge.startRun();
      budget -= readAll(fd, buf, budget, (n) => {
        const r = decodePage(buf, n, cpu, source.layout, merge.pending);
        if (r.missed > 0) agg.event({ kind: 'lost', cpu, count: r.missed });
        if (r.error) agg.malformed(new ParseError(`per_cpu/cpu${cpu}/trace_pipe_raw`, 0, r.error));
      });
    }
    merge.release(now, emit);
  };
}

const drainSource = data.source.format === 'raw' ? rawDrain(data.source) : textDrain(data.source.fd);
function drain(): void {
  if (closed) return;
  forgetNames();
  drainSource();
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
