/**
 * Exact mount syscall accounting and measured lock wait, from the kernel's own tracepoints. Probes
 * estimate; these count. The collector owns a tracefs instance (src/tracefs/instance.ts) whose ring
 * buffer a reader thread decodes (src/tracefs/reader.ts: binary trace_pipe_raw pages, or the
 * trace_pipe text where those cannot be decoded); each sample takes that thread's
 * cumulative totals and adds what is new. Where tracefs cannot be used (no privileges, no tracefs,
 * a kernel without syscall tracepoints) the collector has no data and says why once; it retries
 * every minute.
 */
import * as path from 'node:path';
import { errorMessage } from '../errors';
import { LATENCY_BUCKETS } from '../exposition';
import { TopologyCache, type Topology } from '../sysfs/topology';
import { TRACED_SYSCALLS, type TraceTotals } from '../tracefs/aggregate';
import { locateTracefs, TraceInstance, type TracefsMount } from '../tracefs/instance';
import type { ReaderData, ReaderResponse } from '../tracefs/reader';
import { WorkerCall } from '../worker/call';
import { MonotonicDelta, type Collector, type CollectorContext } from './collector';

const RETRY_MS = 60_000;
const SNAPSHOT_TIMEOUT_MS = 5_000;
const POLL_MS = 100;
const MAX_INFLIGHT = 65_536;

class TraceSession {
  private readonly reader: WorkerCall<object, ReaderResponse>;

  constructor(
    readonly instance: TraceInstance,
    readonly generation: number,
    topProcesses: number,
    procfs: string,
  ) {
    const workerData: ReaderData = {
      source: instance.source,
      monoClock: instance.monoClock,
      tracefsDir: instance.tracefs.dir,
      buckets: LATENCY_BUCKETS,
      topProcesses,
      maxInflight: MAX_INFLIGHT,
      pollMs: POLL_MS,
      procfs,
    };
    // No respawn: the thread reads the instance's descriptors; a dead session is replaced whole.
    this.reader = new WorkerCall(path.join(__dirname, '../tracefs/reader.js'), { workerData, respawn: false });
    this.reader.start();
  }

  get dead(): Error | undefined {
    return this.reader.dead;
  }

  snapshot(): Promise<ReaderResponse> {
    return this.reader.call({}, SNAPSHOT_TIMEOUT_MS, () => new Error(`trace reader did not answer within ${SNAPSHOT_TIMEOUT_MS} ms`));
  }

  async close(): Promise<void> {
    this.reader.post('stop');
    await this.reader.close();
    this.instance.remove();
  }
}

export class TracefsCollector implements Collector {
  readonly name = 'tracefs';
  private readonly calls;
  private readonly duration;
  private readonly errors;
  private readonly byProcess;
  private readonly lockWait;
  private readonly lost;
  private readonly events;
  private readonly parseErrors;
  private readonly deltas = new MonotonicDelta();
  private readonly durationSeen = new Map<string, { counts: number[]; sum: number }>();
  private session: TraceSession | undefined;
  private tracefs: TracefsMount | undefined;
  private lastAttempt = -Infinity;
  private generation = 0;
  private readonly topology: TopologyCache;

  constructor(private readonly ctx: CollectorContext) {
    const e = ctx.exposition;
    this.calls = e.counter('mountstorm_mount_syscalls_total', 'Mount-family syscalls entered, from tracefs syscall tracepoints, by syscall and the socket of the CPU that ran it (unshare, setns and clone only with CLONE_NEWNS).', ['syscall', 'socket']);
    this.duration = e.bulkHistogram('mountstorm_mount_syscall_duration_seconds', 'Duration of mount-family syscalls, from entry to exit of the same task.', LATENCY_BUCKETS, ['syscall']);
    this.errors = e.counter('mountstorm_mount_syscall_errors_total', 'Mount-family syscalls that returned an error, by errno.', ['syscall', 'errno']);
    this.byProcess = e.counter('mountstorm_mount_syscalls_by_process_total', 'Mount-family syscalls by process name; names beyond --collector.tracefs.top-processes are counted as "other".', ['comm']);
    this.lockWait = e.counter('mountstorm_mount_lock_wait_seconds_total', 'Time tasks spent in lock contention (lock:contention_begin to contention_end) while inside a mount-family syscall, by syscall and lock kind.', ['syscall', 'kind']);
    this.lost = e.counter('mountstorm_trace_events_lost_total', 'Trace events the ring buffer overwrote or dropped before they were read; while this rises, syscall counts are lower bounds.');
    this.events = e.counter('mountstorm_trace_events_total', 'Trace events read and accounted from the tracefs instance.');
    this.parseErrors = e.counter('mountstorm_trace_parse_errors_total', 'trace_pipe lines or trace_pipe_raw records that did not have the documented shape.');
    this.topology = new TopologyCache(ctx.paths);
  }

  private start(): void {
    const cfg = this.ctx.config.tracefs;
    this.tracefs ??= locateTracefs(this.ctx.paths, cfg.path);
    const instance = TraceInstance.create(this.tracefs, { bufferSizeKb: cfg.bufferSizeKb, format: cfg.format, log: this.ctx.log });
    this.session = new TraceSession(instance, ++this.generation, cfg.topProcesses, this.ctx.paths.procfs);
    this.ctx.log.info('tracefs: tracing mount syscalls', {
      instance: instance.dir,
      format: instance.source.format,
      events: instance.enabled.length,
      missing: instance.missing.join(',') || undefined,
    });
    if (instance.textReason) this.ctx.log.warn('tracefs: reading trace_pipe text, which costs the kernel more, because trace_pipe_raw cannot be decoded here', { reason: instance.textReason });
  }

  async update(): Promise<void> {
    if (this.session?.dead) {
      this.ctx.log.warn('tracefs: the reader stopped; starting a new instance', { err: errorMessage(this.session.dead) });
      await this.session.close().catch(() => undefined);
      this.session = undefined;
    }
    if (!this.session) {
      if (Date.now() - this.lastAttempt < RETRY_MS) return;
      this.lastAttempt = Date.now();
      try {
        this.start();
        this.ctx.log.recovered('tracefs:start', 'tracefs collector started');
      } catch (err) {
        // No data, not a failure: the other collectors carry on, and the reason is logged once.
        this.ctx.log.failure('tracefs:start', 'info', 'tracefs collector has no data', { reason: errorMessage(err) });
        return;
      }
    }
    const session = this.session as TraceSession;
    const res = await session.snapshot();
    const lostByCpu = session.instance.lostByCpu();
    const topology = await this.topology.get();
    if (res.readError) throw new Error(`reading ${session.instance.dir}/${session.instance.source.format === 'raw' ? 'per_cpu/*/trace_pipe_raw' : 'trace_pipe'}: ${res.readError}`);
    this.apply(session.generation, res.totals, lostByCpu, topology);
  }

  /** Writes what is new since the last sample, in one synchronous block. */
  private apply(gen: number, t: TraceTotals, lostByCpu: Map<string, number>, topology: Topology): void {
    const d = this.deltas;
    // Totals are cumulative per reader session; a new session's totals are all new (first reading taken whole).
    const g = `${gen}\t`;
    const socketOf = (cpu: string) => topology.cpus.get(Number(cpu))?.socket ?? 'unknown';
    // Every syscall starts at 0 on every socket, so the first calls of a storm are a rate, not a new series.
    const sockets = new Set([...topology.cpus.values()].map((p) => p.socket));
    for (const s of TRACED_SYSCALLS) for (const socket of sockets) this.calls.inc({ syscall: s.name, socket }, 0);

    for (const [key, v] of Object.entries(t.callsByCpu)) {
      const [syscall, cpu] = key.split('\t') as [string, string];
      const inc = d.delta(`${g}calls\t${key}`, v);
      if (inc > 0) this.calls.inc({ syscall, socket: socketOf(cpu) }, inc);
    }
    for (const [key, v] of Object.entries(t.errors)) {
      const [syscall, errno] = key.split('\t') as [string, string];
      const inc = d.delta(`${g}errors\t${key}`, v);
      if (inc > 0) this.errors.inc({ syscall, errno }, inc);
    }
    for (const [comm, v] of Object.entries(t.byProcess)) {
      const inc = d.delta(`${g}comm\t${comm}`, v);
      if (inc > 0) this.byProcess.inc({ comm }, inc);
    }
    for (const [key, v] of Object.entries(t.lockWait)) {
      const [syscall, kind] = key.split('\t') as [string, string];
      const inc = d.delta(`${g}lock\t${key}`, v);
      if (inc > 0) this.lockWait.inc({ syscall, kind }, inc);
    }
    for (const [syscall, h] of Object.entries(t.durations)) {
      const seen = this.durationSeen.get(g + syscall) ?? { counts: h.counts.map(() => 0), sum: 0 };
      this.duration.add({ syscall }, h.counts.map((c, i) => Math.max(0, c - (seen.counts[i] as number))), Math.max(0, h.sum - seen.sum));
      this.durationSeen.set(g + syscall, { counts: [...h.counts], sum: h.sum });
    }
    // The per-CPU stats count every overwritten or dropped event; the reader's own loss markers
    // ("[LOST n EVENTS]", a page's missed-events flag) report the same events, so they are the
    // count only where the stats cannot be read.
    let lost = 0;
    if (lostByCpu.size === 0) lost = d.delta(`${g}lostLines`, t.lostLines);
    for (const [cpu, v] of lostByCpu) lost += d.delta(`${g}lost\t${cpu}`, v);
    this.lost.inc(lost);
    this.events.inc(d.delta(`${g}events`, t.events));
    this.parseErrors.inc(d.delta(`${g}parseErrors`, t.parseErrors));
    if (t.lastParseError) this.ctx.log.failure('tracefs:parse', 'warn', 'tracefs: unparsable trace_pipe line', { err: t.lastParseError });
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await s?.close();
  }
}
