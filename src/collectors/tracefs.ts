/**
 * Exact mount syscall accounting and measured lock wait, from the kernel's own tracepoints. Probes
 * estimate; these count. The trace thread (src/sources/tracefs/) owns the instance and hands over
 * what changed since the last sample; this collector places each CPU on its socket and adds it to
 * the counters. Where tracefs cannot be used (no privileges, no tracefs, a kernel without syscall
 * tracepoints) the collector has no data and says why once; it retries every minute.
 */
import { errorMessage } from '../errors';
import { LATENCY_BUCKETS } from '../exposition';
import { between, oneOf } from '../flags';
import type { DurationDelta } from '../sources/tracefs/aggregator';
import { TRACED_SYSCALLS } from '../sources/tracefs/events';
import type { TraceFormat } from '../sources/tracefs/instance';
import { TraceSource } from '../sources/tracefs/source';
import { TopologyCache } from '../sysfs/topology';
import { defineCollector, type Collector, type CollectorContext } from './collector';

/** The metrics this file owns, by what they measure: alerts and dashboards name them through this. */
export const TRACEFS_METRICS = {
  mountSyscalls: 'mountstorm_mount_syscalls_total',
  mountSyscallDurationSeconds: 'mountstorm_mount_syscall_duration_seconds',
  mountSyscallErrors: 'mountstorm_mount_syscall_errors_total',
  mountSyscallsByProcess: 'mountstorm_mount_syscalls_by_process_total',
  mountLockWaitSeconds: 'mountstorm_mount_lock_wait_seconds_total',
  traceEventsLost: 'mountstorm_trace_events_lost_total',
  traceEvents: 'mountstorm_trace_events_total',
  traceParseErrors: 'mountstorm_trace_parse_errors_total',
} as const;
const M = TRACEFS_METRICS;

const RETRY_MS = 60_000;
const POLL_MS = 100;
const MAX_INFLIGHT = 65_536;

export interface TracefsOptions {
  path: string | undefined;
  bufferSizeKb: number;
  topProcesses: number;
  format: TraceFormat;
}

/** What the kernel's tracepoints recorded since the last sample. */
export interface TracefsSnapshot {
  /** Syscalls entered, by the socket of the CPU that ran the entry. */
  calls: Array<{ syscall: string; socket: string; count: number }>;
  /** The sum of `calls`. */
  syscalls: number;
  errors: Array<{ syscall: string; errno: string; count: number }>;
  byProcess: Array<{ comm: string; count: number }>;
  lockWait: Array<{ syscall: string; kind: string; seconds: number }>;
  /** The sum of `lockWait`. */
  lockWaitSeconds: number;
  durations: DurationDelta[];
  /** Events lost before they were read. */
  lost: number;
  events: number;
  parseErrors: number;
  /** Every socket of the host, so each syscall's series start at 0 on all of them. */
  sockets: string[];
}

export class TracefsCollector implements Collector<TracefsSnapshot> {
  readonly name = 'tracefs';
  private readonly calls;
  private readonly duration;
  private readonly errors;
  private readonly byProcess;
  private readonly lockWait;
  private readonly lost;
  private readonly events;
  private readonly parseErrors;
  private source: TraceSource | undefined;
  private lastAttempt = -Infinity;
  private readonly topology: TopologyCache;

  constructor(
    private readonly ctx: CollectorContext,
    private readonly options: TracefsOptions,
  ) {
    const e = ctx.exposition;
    this.calls = e.counter(M.mountSyscalls, 'Mount-family syscalls entered, from tracefs syscall tracepoints, by syscall and the socket of the CPU that ran it (unshare, setns and clone only with CLONE_NEWNS).', ['syscall', 'socket']);
    this.duration = e.bucketHistogram(M.mountSyscallDurationSeconds, 'Duration of mount-family syscalls, from entry to exit of the same task.', LATENCY_BUCKETS, ['syscall']);
    this.errors = e.counter(M.mountSyscallErrors, 'Mount-family syscalls that returned an error, by errno.', ['syscall', 'errno']);
    this.byProcess = e.counter(M.mountSyscallsByProcess, 'Mount-family syscalls by process name; names beyond --collector.tracefs.top-processes are counted as "other".', ['comm']);
    this.lockWait = e.counter(M.mountLockWaitSeconds, 'Time tasks spent in lock contention (lock:contention_begin to contention_end) while inside a mount-family syscall, by syscall and lock kind.', ['syscall', 'kind']);
    this.lost = e.counter(M.traceEventsLost, 'Trace events the ring buffer overwrote or dropped before they were read; while this rises, syscall counts are lower bounds.');
    this.events = e.counter(M.traceEvents, 'Trace events read and accounted from the tracefs instance.');
    this.parseErrors = e.counter(M.traceParseErrors, 'trace_pipe lines or trace_pipe_raw records that did not have the documented shape.');
    this.topology = new TopologyCache(ctx.paths);
  }

  private async start(): Promise<TraceSource> {
    const o = this.options;
    const source = await TraceSource.open({
      procfs: this.ctx.paths.procfs,
      sysfs: this.ctx.paths.sysfs,
      tracefsPath: o.path,
      bufferSizeKb: o.bufferSizeKb,
      format: o.format,
      buckets: LATENCY_BUCKETS,
      topProcesses: o.topProcesses,
      maxInflight: MAX_INFLIGHT,
      pollMs: POLL_MS,
    });
    const i = source.opened;
    const log = this.ctx.log;
    for (const name of i.removedStale) log.info('tracefs: removed a stale instance left by an exporter that is gone', { instance: name });
    for (const w of i.warnings) log.warn(`tracefs: ${w}`);
    log.info('tracefs: tracing mount syscalls', { instance: i.handle.dir, format: i.format, events: i.enabled.length, missing: i.missing.join(',') || undefined });
    if (i.textReason) log.warn('tracefs: reading trace_pipe text, which costs the kernel more, because trace_pipe_raw cannot be decoded here', { reason: i.textReason });
    return source;
  }

  async collect(): Promise<TracefsSnapshot | undefined> {
    if (this.source?.dead) {
      this.ctx.log.warn('tracefs: the reader stopped; starting a new instance', { err: errorMessage(this.source.dead) });
      await this.source.close().catch(() => undefined);
      this.source = undefined;
    }
    if (!this.source) {
      if (Date.now() - this.lastAttempt < RETRY_MS) return undefined;
      this.lastAttempt = Date.now();
      try {
        this.source = await this.start();
        this.ctx.log.recovered('tracefs:start', 'tracefs collector started');
      } catch (err) {
        // No data, not a failure: the other collectors carry on, and the reason is logged once.
        this.ctx.log.failure('tracefs:start', 'info', 'tracefs collector has no data', { reason: errorMessage(err) });
        return undefined;
      }
    }
    const { delta: d, readError } = await this.source.take();
    const topology = await this.topology.get();
    if (readError) throw new Error(`reading ${this.source.opened.handle.dir}/${this.source.opened.format === 'raw' ? 'per_cpu/*/trace_pipe_raw' : 'trace_pipe'}: ${readError}`);
    if (d.lastParseError) this.ctx.log.failure('tracefs:parse', 'warn', 'tracefs: unparsable trace_pipe line', { err: d.lastParseError });
    const socketOf = (cpu: number) => topology.cpus.get(cpu)?.socket ?? 'unknown';
    return {
      calls: d.calls.map((c) => ({ syscall: c.syscall, socket: socketOf(c.cpu), count: c.count })),
      syscalls: d.calls.reduce((n, c) => n + c.count, 0),
      errors: d.errors,
      byProcess: d.byProcess,
      lockWait: d.lockWait,
      lockWaitSeconds: d.lockWait.reduce((n, w) => n + w.seconds, 0),
      durations: d.durations,
      lost: d.lost,
      events: d.events,
      parseErrors: d.parseErrors,
      sockets: [...new Set([...topology.cpus.values()].map((p) => p.socket))],
    };
  }

  apply(s: TracefsSnapshot): void {
    // Every syscall starts at 0 on every socket, so the first calls of a storm are a rate, not a new series.
    for (const t of TRACED_SYSCALLS) for (const socket of s.sockets) this.calls.inc({ syscall: t.name, socket }, 0);
    for (const c of s.calls) this.calls.inc({ syscall: c.syscall, socket: c.socket }, c.count);
    for (const e of s.errors) this.errors.inc({ syscall: e.syscall, errno: e.errno }, e.count);
    for (const p of s.byProcess) this.byProcess.inc({ comm: p.comm }, p.count);
    for (const w of s.lockWait) this.lockWait.inc({ syscall: w.syscall, kind: w.kind }, w.seconds);
    for (const d of s.durations) this.duration.addCounts({ syscall: d.syscall }, d.counts, d.sum);
    this.lost.inc(s.lost);
    this.events.inc(s.events);
    this.parseErrors.inc(s.parseErrors);
  }

  async close(): Promise<void> {
    const s = this.source;
    this.source = undefined;
    await s?.close();
  }
}

export const tracefsCollector = defineCollector({
  name: 'tracefs',
  defaultEnabled: true,
  help: 'exact mount syscall counts, durations, errors and lock wait from tracefs (root or CAP_SYS_ADMIN; no data otherwise).',
  flags: [
    { name: 'path', kind: 'path', default: undefined, help: 'tracefs mount point (default: <path.sysfs>/kernel/tracing, else <path.sysfs>/kernel/debug/tracing; mounted at the first when no tracefs is mounted).' },
    { name: 'buffer-size', kind: 'int', default: 512, help: "Ring buffer per CPU of the exporter's tracefs instance, in KiB; raise it when mountstorm_trace_events_lost_total rises.", check: between(16, 1 << 20, ' KiB') },
    {
      name: 'format',
      kind: 'string',
      default: 'auto',
      help: 'How trace events are read: raw (the binary per-CPU trace_pipe_raw pages; the kernel does not format them), text (trace_pipe; costs the kernel a printf per event), or auto (raw where its page format is one this reader knows, else text).',
      check: oneOf(['auto', 'raw', 'text']),
    },
    { name: 'top-processes', kind: 'int', default: 10, help: 'Process names given their own series in mountstorm_mount_syscalls_by_process_total (the first seen keep them); the rest are "other".', check: between(0, 100) },
  ],
  options: (value) => ({
    path: value('path') as string | undefined,
    bufferSizeKb: value('buffer-size') as number,
    topProcesses: value('top-processes') as number,
    format: value('format') as TraceFormat,
  }),
  create: (ctx, o) => new TracefsCollector(ctx, o),
});
