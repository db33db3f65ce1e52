/**
 * The trace owner: everything the tracefs source does in the kernel, on the kernel-events thread
 * (src/sources/kernel-events/thread.ts), never on the exporter's event loop. It finds (or mounts)
 * tracefs, takes its turn on `instances/`, creates and opens the exporter's instance, drains it
 * every few milliseconds (non-blocking, so it never sits in a read the thread cannot leave), folds
 * the events into what changed since the last take, reads the per-CPU loss counters, and removes
 * the instance when told to close.
 *
 * Two streams: the binary pages of every CPU's trace_pipe_raw (the default; no formatting in the
 * kernel), or the text of trace_pipe. Raw pages come per CPU, so each drain merges them by time
 * before accounting (TimeMerge): a task that migrates between its syscall's entry and exit, or
 * sleeps on a lock on one CPU and wakes on another, is paired right.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { errnoCode, errorMessage, ParseError } from '../../errors';
import { HostPaths } from '../../fs/paths';
import { MonotonicDelta } from '../monotonic-delta';
import { mergeDeltas, TraceAggregator, type TraceDelta } from './aggregator';
import { accountEvent, type RawBatch } from './batch';
import { removeInstance, TraceInstance, type InstanceHandle, type TraceFormat, type TraceStream } from './instance';
import { locateTracefs, releaseTracefs } from './locate';
import { TimeMerge } from './merge';
import { TaskNames } from './names';
import { decodePage } from './page';

export interface TraceSettings {
  procfs: string;
  sysfs: string;
  /** --collector.tracefs.path, or undefined to look in the usual places. */
  tracefsPath: string | undefined;
  /** Ring buffer per CPU in KiB, or 'auto' (sized from the CPU count: bufferSizeFor()). */
  bufferSizeKb: number | 'auto';
  format: TraceFormat;
  /** Enable the readers' events (opens of mount table files) too. */
  readers: boolean;
  /** Record from the start (mode always), or wait for an 'arm' request (on-demand). */
  armed: boolean;
  buckets: number[];
  topProcesses: number;
  maxInflight: number;
  pollMs: number;
}

/**
 * The ring buffer per CPU for `cpus` CPUs, in KiB: 32 MiB in all, between 512 KiB and 8 MiB per CPU.
 * At 100,000 mount-family syscalls a second (about 15 MB/s of events) that holds a second of events
 * the reader could not drain, on two CPUs as on 64, for a few tens of MiB of kernel memory at most.
 */
export function bufferSizeFor(cpus: number): number {
  return Math.min(8192, Math.max(512, Math.floor(32768 / Math.max(1, cpus))));
}

/** What the thread opened, for the log and for the main thread's exit handler. */
export interface OpenedInstance {
  bufferSizeKb: number;
  handle: InstanceHandle;
  format: 'raw' | 'text';
  enabled: string[];
  missing: string[];
  textReason: string | undefined;
  removedStale: string[];
  warnings: string[];
}

export type TraceRequest =
  | { op: 'open'; settings: TraceSettings }
  | { op: 'take'; acked: boolean }
  | { op: 'arm'; on: boolean }
  | { op: 'close' };
export type TraceAnswer = { opened?: OpenedInstance; delta?: TraceDelta; readError?: string };

const CHUNK = 1 << 20;
/** At most this much is read per drain, so requests are answered even under a flood. */
const MAX_DRAIN = 64 << 20;
/** A syscall in flight longer than this lost its exit (task killed, or events overwritten). */
const INFLIGHT_MAX_AGE_S = 300;
/** Names are asked for again after this long (see TaskNames). */
const NAME_TTL_MS = 1000;
/** Drains come every pollMs, or every BUSY_POLL_MS while a drain found a CPU's buffer an eighth full. */
const BUSY_POLL_MS = 10;

/** Reads until EAGAIN or `budget` bytes, handing each read's length to `chunk`; returns the bytes read. */
function readAll(
  fd: number,
  buf: Buffer,
  budget: number,
  chunk: (n: number) => void,
): { total: number; error?: string; gone?: boolean } {
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
      return { total, error: errorMessage(err), gone: code === 'EBADF' };
    }
    if (n === 0) break;
    total += n;
    chunk(n);
  }
  return { total };
}

/** One instance, opened by open(), read until close(). */
export class TraceOwner {
  private instance: TraceInstance | undefined;
  private agg: TraceAggregator | undefined;
  private drainStream: () => void = () => undefined;
  private names: TaskNames | undefined;
  private namesAt = 0;
  private readError: string | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** Bytes read by the last drain from the busiest CPU, against its buffer: how soon to drain again. */
  private busiest = 0;
  private bufferBytes = 0;
  /** Deltas answered but not yet acknowledged: sent again, added to, until the main thread has one. */
  private pending: TraceDelta | undefined;
  private readonly lostStats = new MonotonicDelta();
  private sinceExpire = 0;

  constructor(private readonly settings: TraceSettings) {}

  /** A read's outcome: a read error stands until a read succeeds; EBADF ends the instance. */
  private read(fd: number, buf: Buffer, budget: number, chunk: (n: number) => void): number {
    const r = readAll(fd, buf, budget, chunk);
    if (r.error !== undefined) {
      this.readError = r.error;
      if (r.gone) this.closed = true;
    } else if (r.total > 0) this.readError = undefined;
    return r.total;
  }

  private textDrain(a: TraceAggregator, fd: number): () => void {
    const decoder = new StringDecoder('utf8');
    const buf = Buffer.allocUnsafe(CHUNK);
    return () => {
      this.busiest = this.read(fd, buf, MAX_DRAIN, (n) => a.feed(decoder.write(buf.subarray(0, n))));
    };
  }

  private rawDrain(
    a: TraceAggregator,
    stream: Extract<TraceStream, { format: 'raw' }>,
    monoClock: boolean,
  ): () => void {
    const buf = Buffer.allocUnsafe(stream.pageSize);
    const merge = new TimeMerge(monoClock);
    const emit = (b: RawBatch, i: number) => accountEvent(a, b, i);
    return () => {
      const now = Number(process.hrtime.bigint()) / 1e9;
      let budget = MAX_DRAIN;
      this.busiest = 0;
      for (const { cpu, fd } of stream.cpus) {
        if (this.closed) break;
        merge.startRun();
        const got = this.read(fd, buf, budget, (n) => {
          const r = decodePage(buf, n, cpu, stream.layout, merge.pending);
          if (r.missed > 0) a.lost(r.missed);
          if (r.error) a.malformed(new ParseError(`per_cpu/cpu${cpu}/trace_pipe_raw`, 0, r.error));
        });
        budget -= got;
        this.busiest = Math.max(this.busiest, got);
      }
      merge.release(now, emit);
    };
  }

  private drain(): void {
    if (this.closed || !this.agg) return;
    const now = Date.now();
    if (this.names && now - this.namesAt >= NAME_TTL_MS) {
      this.namesAt = now;
      this.names.expire();
      this.agg.forgetNames();
    }
    this.drainStream();
  }

  /** Drains while armed: every pollMs, sooner while the buffers fill fast; stops when disarmed. */
  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed || !this.instance?.armed) return;
    const wait = this.busiest * 8 >= this.bufferBytes ? BUSY_POLL_MS : this.settings.pollMs;
    this.timer = setTimeout(() => {
      this.drain();
      this.sinceExpire += wait;
      if (this.sinceExpire >= 10_000) {
        this.sinceExpire = 0;
        this.agg?.expire(INFLIGHT_MAX_AGE_S);
      }
      this.schedule();
    }, wait);
  }

  open(): OpenedInstance {
    const data = this.settings;
    const paths = new HostPaths(data.procfs, data.sysfs);
    const tracefs = locateTracefs(paths, data.tracefsPath);
    const removedStale: string[] = [];
    const warnings: string[] = [];
    const bufferSizeKb = data.bufferSizeKb === 'auto' ? bufferSizeFor(os.cpus().length) : data.bufferSizeKb;
    this.bufferBytes = bufferSizeKb * 1024;
    let instance: TraceInstance;
    try {
      instance = TraceInstance.create(
        tracefs,
        { bufferSizeKb, format: data.format, readers: data.readers, armed: data.armed },
        { removedStale: (n) => removedStale.push(n), warn: (m) => warnings.push(m) },
      );
    } catch (err) {
      releaseTracefs(tracefs);
      throw err;
    }
    this.instance = instance;
    const stream = instance.stream;
    const taskNames = new TaskNames(data.procfs, tracefs.dir, stream.format === 'raw');
    this.names = taskNames;
    const a = new TraceAggregator({
      buckets: data.buckets,
      topProcesses: data.topProcesses,
      maxInflight: data.maxInflight,
      resolveComm: (tid) => taskNames.resolve(tid),
      // A fork, exec or PR_SET_NAME, in time order with the syscalls: the task's later events carry this name.
      onName: (tid, comm) => taskNames.name(tid, comm),
      eventName: (tid) => taskNames.eventName(tid),
    });
    this.agg = a;
    this.drainStream =
      stream.format === 'raw' ? this.rawDrain(a, stream, instance.monoClock) : this.textDrain(a, stream.fd);
    this.schedule();
    return {
      bufferSizeKb,
      handle: instance.handle,
      format: stream.format,
      enabled: instance.enabled,
      missing: instance.missing,
      textReason: instance.textReason,
      removedStale,
      warnings,
    };
  }

  /** Arms or disarms the instance; what was recorded before disarming is drained first. */
  private arm(on: boolean): void {
    if (!this.instance) throw new Error('the trace instance is not open');
    if (!on) this.drain();
    this.instance.arm(on);
    if (!on) {
      this.drain();
      // Disarmed, no fork, exec or rename is recorded: the events' names could go stale.
      this.names?.clear();
      this.agg?.forgetNames();
    }
    this.schedule();
  }

  /** Events lost since the last take: the per-CPU stats where they can be read, else the stream's own markers. */
  private lostSinceLast(delta: TraceDelta): number {
    // Disarmed, nothing is recorded, so nothing can be lost: the stats are not read.
    const byCpu = this.instance?.armed ? this.instance.lostByCpu() : new Map<string, number>();
    if (byCpu.size === 0) return delta.lost;
    let lost = 0;
    for (const [cpu, v] of byCpu) lost += this.lostStats.delta(cpu, v);
    return lost;
  }

  /** A request to the opened instance (opening is open(), with the settings the owner was made with). */
  handle(req: Exclude<TraceRequest, { op: 'open' }>): TraceAnswer {
    switch (req.op) {
      case 'take': {
        if (!this.agg) throw new Error('the trace instance is not open');
        if (req.acked) this.pending = undefined;
        this.drain();
        const d = this.agg.take();
        d.lost = this.lostSinceLast(d);
        this.pending = this.pending ? mergeDeltas(this.pending, d) : d;
        return { delta: this.pending, readError: this.readError };
      }
      case 'arm':
        this.arm(req.on);
        return {};
      case 'close':
        this.close();
        return {};
    }
  }

  /** Stops draining and removes the instance. */
  close(): void {
    clearTimeout(this.timer);
    this.closed = true;
    if (this.instance) removeInstance(this.instance.handle);
  }
}
