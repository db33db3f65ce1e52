/**
 * Exact mount syscall accounting and measured lock wait, from the kernel's own tracepoints. Probes
 * estimate; these count. The trace owner (src/sources/tracefs/), on the kernel-events thread,
 * owns the instance and hands over what changed since the last sample; this collector places each
 * CPU on its socket and adds it to the counters. Where tracefs cannot be used (no privileges, no
 * tracefs, a kernel without syscall tracepoints) the collector has no data and says why once; it
 * retries every minute.
 *
 * While a syscall tracepoint is enabled, every syscall of every task on the host takes the kernel's
 * tracing path. So by default (mode on-demand) the instance's events are armed only while the cheap
 * signals say a storm may be starting (src/alerts/arming.ts decides, and calls hint()); they are
 * disarmed once --collector.tracefs.calm has passed without one. Mode always records all the time.
 */
import { errorMessage } from '../errors';
import { LATENCY_BUCKETS } from '../exposition';
import { between, oneOf, type FlagValue } from '../flags';
import type { DurationDelta } from '../sources/tracefs/aggregator';
import { ACTORS } from '../sources/tracefs/actors';
import { TRACED_SYSCALLS } from '../sources/tracefs/events';
import type { TraceFormat } from '../sources/tracefs/instance';
import { TraceSource } from '../sources/tracefs/source';
import { TopologyCache } from '../sysfs/topology';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { TRACEFS_METRICS } from '../metric-names';

const M = TRACEFS_METRICS;

const RETRY_MS = 60_000;
const POLL_MS = 100;
const MAX_INFLIGHT = 65_536;

export type TraceMode = 'on-demand' | 'always';

export interface TracefsOptions {
  path: string | undefined;
  bufferSizeKb: number | 'auto';
  topProcesses: number;
  format: TraceFormat;
  mode: TraceMode;
  /** Count the readers' opens of mount table files too (--collector.tracefs.readers). */
  readers: boolean;
  /** In mode on-demand, how long after the last storm signal the events are disarmed. */
  calmMs: number;
}

/** What the kernel's tracepoints recorded since the last sample. */
export interface TracefsSnapshot {
  /** Syscalls entered, by the socket of the CPU that ran the entry. */
  calls: Array<{ syscall: string; socket: string; count: number }>;
  /** The sum of `calls`. */
  syscalls: number;
  /** New mounts the syscalls that succeeded made (mount(2) of a filesystem or a bind, open_tree(OPEN_TREE_CLONE), fsmount), in every mount namespace. */
  mountsMade: number;
  errors: Array<{ syscall: string; errno: string; count: number }>;
  byProcess: Array<{ comm: string; count: number }>;
  /** By the step of a container start the caller is (src/sources/tracefs/actors.ts). */
  byActor: Array<{ actor: string; count: number }>;
  /** Opens of a mount table file by its readers (systemd, kubelet, …), and by process name; undefined where not counted. */
  tableOpens?: number;
  tableOpensByProcess: Array<{ comm: string; count: number }>;
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
  /** The events are enabled (always, or armed on demand), and since when (Unix ms). */
  armed: boolean;
  armedSince?: number;
  /** Seconds since the last sample that the events were armed: what the counts above cover. */
  tracedSeconds: number;
  /** Times tracing was armed since the last sample. */
  arms: number;
  /** When the events are enabled: always, or armed on demand by the cheap signals. */
  mode: TraceMode;
}

export class TracefsCollector implements Collector<TracefsSnapshot> {
  readonly name = 'tracefs';
  private readonly calls;
  private readonly created;
  private readonly armedSeconds;
  private readonly duration;
  private readonly errors;
  private readonly byProcess;
  private readonly byActor;
  private readonly tableOpens;
  private actorsShown = false;
  private readonly lockWait;
  private readonly lost;
  private readonly events;
  private readonly parseErrors;
  private readonly armedGauge;
  private readonly armsCounter;
  private readonly modeGauge;
  private source: TraceSource | undefined;
  private armed = false;
  private armedSince: number | undefined;
  private arming: Promise<void> | undefined;
  private lastSignal = 0;
  private arms = 0;
  /** When the previous sample took its counts (Unix ms), and the armed time of spells that ended since. */
  private lastTake: number | undefined;
  private armedEndedMs = 0;
  private lastAttempt = -Infinity;
  private readonly topology: TopologyCache;

  constructor(
    private readonly ctx: CollectorContext,
    private readonly options: TracefsOptions,
  ) {
    const e = ctx.exposition;
    this.calls = e.counter(
      M.mountSyscalls,
      'Mount-family syscalls entered, from tracefs syscall tracepoints, by syscall and the socket of the CPU that ran it (unshare, setns and clone only with CLONE_NEWNS).',
      ['syscall', 'socket'],
    );
    this.created = e.counter(
      M.mountsCreated,
      'New mounts made by mount syscalls that succeeded, in every mount namespace (short-lived ones included), from tracefs: mount(2) of a filesystem or a bind, open_tree(OPEN_TREE_CLONE), fsmount; a recursive bind or clone counts once. Each is attached and detached again, by umount or with its mount namespace: two mount table changes under the mount locks.',
    );
    this.armedSeconds = e.counter(
      M.traceArmedSeconds,
      'Seconds the syscall and lock tracepoints were enabled: the time the tracefs counts cover (all of it in mode always).',
    );
    this.duration = e.bucketHistogram(
      M.mountSyscallDurationSeconds,
      'Duration of mount-family syscalls, from entry to exit of the same task.',
      LATENCY_BUCKETS,
      ['syscall'],
    );
    this.errors = e.counter(M.mountSyscallErrors, 'Mount-family syscalls that returned an error, by errno.', [
      'syscall',
      'errno',
    ]);
    this.byProcess = e.counter(
      M.mountSyscallsByProcess,
      'Mount-family syscalls by process name; names beyond --collector.tracefs.top-processes are counted as "other".',
      ['comm'],
    );
    this.byActor = e.counter(
      M.mountSyscallsByActor,
      'Mount-family syscalls by the step of a container start that made them, from the process name: shim (containerd-shim*, conmon: preparing the rootfs), runtime (containerd, dockerd, crio, their clients), oci-runtime (runc, crun, youki, runsc: setting up the container), kubelet, systemd, other.',
      ['actor'],
    );
    // Only with --collector.tracefs.readers: no series where they are not counted.
    this.tableOpens = options.readers
      ? e.counter(
          M.mountTableOpensByProcess,
          `With --collector.tracefs.readers: opens of a mount table file (a path ending in /mountinfo or /mounts: /proc/<pid>/mountinfo, /proc/self/mounts, /proc/mounts), each the start of a read that renders every mount under namespace_sem, by process name as ${M.mountSyscallsByProcess} names them (open and openat, filtered in the kernel: Linux 5.17+; opens relative to a /proc/<pid> directory descriptor are not seen).`,
          ['comm'],
        )
      : undefined;
    this.lockWait = e.counter(
      M.mountLockWaitSeconds,
      'Time tasks spent in lock contention (lock:contention_begin to contention_end) while inside a mount-family syscall, by syscall and lock kind.',
      ['syscall', 'kind'],
    );
    this.lost = e.counter(
      M.traceEventsLost,
      'Trace events the ring buffer overwrote or dropped before they were read; while this rises, syscall counts are lower bounds.',
    );
    this.events = e.counter(M.traceEvents, 'Trace events read and accounted from the tracefs instance.');
    this.parseErrors = e.counter(
      M.traceParseErrors,
      'trace_pipe lines or trace_pipe_raw records that did not have the documented shape.',
    );
    this.armedGauge = e.gauge(
      M.traceArmed,
      'Whether the syscall and lock tracepoints are enabled now: always in mode always; in mode on-demand only while a storm may be starting (every syscall on the host pays for them while they are).',
    );
    this.armsCounter = e.counter(
      M.traceArms,
      'Times tracing was armed because a storm might be starting (mode on-demand).',
    );
    this.modeGauge = e.gauge(
      M.traceMode,
      'When the tracepoints are enabled: on-demand or always; 1 for the mode in use.',
      ['mode'],
    );
    this.topology = new TopologyCache(ctx.paths);
  }

  /**
   * A storm may be starting (a collector's cheap signal, `reason` says which): in mode on-demand the
   * events are armed now, and stay armed until --collector.tracefs.calm passes without another signal.
   */
  hint(reason: string): void {
    this.lastSignal = Date.now();
    if (this.options.mode !== 'on-demand' || this.armed || this.arming || !this.source) return;
    const source = this.source;
    this.arming = source
      .arm(true)
      .then(() => {
        this.armed = true;
        this.armedSince = Date.now();
        this.arms++;
        this.ctx.log.info('tracefs: armed: a mount storm may be starting', { reason });
      })
      .catch((err: unknown) =>
        this.ctx.log.failure('tracefs:arm', 'warn', 'tracefs: could not arm', { err: errorMessage(err) }),
      )
      .finally(() => (this.arming = undefined));
  }

  private maybeDisarm(): void {
    if (
      this.options.mode !== 'on-demand' ||
      !this.armed ||
      this.arming ||
      !this.source ||
      Date.now() - this.lastSignal < this.options.calmMs
    )
      return;
    const source = this.source;
    this.arming = source
      .arm(false)
      .then(() => {
        this.armedEndedMs += this.armedSpellMs(Date.now());
        this.armed = false;
        this.ctx.log.info('tracefs: disarmed: no storm signal for a while', {
          calm_ms: this.options.calmMs,
          armed_ms: Date.now() - (this.armedSince ?? Date.now()),
        });
        this.armedSince = undefined;
      })
      .catch((err: unknown) =>
        this.ctx.log.failure('tracefs:arm', 'warn', 'tracefs: could not disarm', { err: errorMessage(err) }),
      )
      .finally(() => (this.arming = undefined));
  }

  private async start(): Promise<TraceSource> {
    const o = this.options;
    const source = await TraceSource.open(
      {
        procfs: this.ctx.paths.procfs,
        sysfs: this.ctx.paths.sysfs,
        tracefsPath: o.path,
        bufferSizeKb: o.bufferSizeKb,
        format: o.format,
        readers: o.readers,
        armed: o.mode === 'always',
        buckets: LATENCY_BUCKETS,
        topProcesses: o.topProcesses,
        maxInflight: MAX_INFLIGHT,
        pollMs: POLL_MS,
      },
      this.ctx.threads.kernelEvents,
    );
    const i = source.opened;
    const log = this.ctx.log;
    for (const name of i.removedStale)
      log.info('tracefs: removed a stale instance left by an exporter that is gone', { instance: name });
    for (const w of i.warnings) log.warn(`tracefs: ${w}`);
    log.info('tracefs: tracing mount syscalls', {
      instance: i.handle.dir,
      format: i.format,
      events: i.enabled.length,
      missing: i.missing.join(',') || undefined,
      buffer_kb: i.bufferSizeKb,
      mode: o.mode,
    });
    if (i.textReason)
      log.warn(
        'tracefs: reading trace_pipe text, which costs the kernel more, because trace_pipe_raw cannot be decoded here',
        { reason: i.textReason },
      );
    return source;
  }

  async collect(): Promise<TracefsSnapshot | undefined> {
    if (this.source?.dead) {
      this.ctx.log.warn('tracefs: the reader stopped; starting a new instance', {
        err: errorMessage(this.source.dead),
      });
      await this.source.close().catch(() => undefined);
      this.source = undefined;
    }
    if (!this.source) {
      if (Date.now() - this.lastAttempt < RETRY_MS) return undefined;
      this.lastAttempt = Date.now();
      try {
        this.source = await this.start();
        this.armed = this.options.mode === 'always';
        this.armedSince = this.armed ? Date.now() : undefined;
        this.ctx.log.recovered('tracefs:start', 'tracefs collector started');
      } catch (err) {
        // No data, not a failure: the other collectors carry on, and the reason is logged once.
        this.ctx.log.failure('tracefs:start', 'info', 'tracefs collector has no data', { reason: errorMessage(err) });
        return undefined;
      }
    }
    this.maybeDisarm();
    const { delta: d, readError } = await this.source.take();
    const topology = await this.topology.get();
    if (readError)
      throw new Error(
        `reading ${this.source.opened.handle.dir}/${this.source.opened.format === 'raw' ? 'per_cpu/*/trace_pipe_raw' : 'trace_pipe'}: ${readError}`,
      );
    if (d.lastParseError)
      this.ctx.log.failure('tracefs:parse', 'warn', 'tracefs: unparsable trace_pipe line', { err: d.lastParseError });
    const socketOf = (cpu: number) => topology.cpus.get(cpu)?.socket ?? 'unknown';
    const now = Date.now();
    const tracedSeconds = (this.armedEndedMs + (this.armed ? this.armedSpellMs(now) : 0)) / 1000;
    this.armedEndedMs = 0;
    this.lastTake = now;
    return {
      calls: d.calls.map((c) => ({ syscall: c.syscall, socket: socketOf(c.cpu), count: c.count })),
      syscalls: d.calls.reduce((n, c) => n + c.count, 0),
      mountsMade: d.mountsMade,
      errors: d.errors,
      byProcess: d.byProcess,
      byActor: d.byActor,
      tableOpens: this.options.readers ? d.tableOpens : undefined,
      tableOpensByProcess: d.tableOpensByProcess,
      lockWait: d.lockWait,
      lockWaitSeconds: d.lockWait.reduce((n, w) => n + w.seconds, 0),
      durations: d.durations,
      lost: d.lost,
      events: d.events,
      parseErrors: d.parseErrors,
      sockets: [...new Set([...topology.cpus.values()].map((p) => p.socket))],
      armed: this.armed,
      armedSince: this.armedSince,
      tracedSeconds,
      arms: this.takeArms(),
      mode: this.options.mode,
    };
  }

  /** The armed spell's time since the previous take (or since it began, if later), up to `now`. */
  private armedSpellMs(now: number): number {
    const since = Math.max(this.armedSince ?? now, this.lastTake ?? -Infinity);
    return Math.max(0, now - since);
  }

  private takeArms(): number {
    const n = this.arms;
    this.arms = 0;
    return n;
  }

  apply(s: TracefsSnapshot): void {
    // Every syscall starts at 0 on every socket, so the first calls of a storm are a rate, not a new series.
    for (const t of TRACED_SYSCALLS) for (const socket of s.sockets) this.calls.inc({ syscall: t.name, socket }, 0);
    for (const c of s.calls) this.calls.inc({ syscall: c.syscall, socket: c.socket }, c.count);
    this.created.inc(s.mountsMade);
    this.armedSeconds.inc(s.tracedSeconds);
    for (const e of s.errors) this.errors.inc({ syscall: e.syscall, errno: e.errno }, e.count);
    for (const p of s.byProcess) this.byProcess.inc({ comm: p.comm }, p.count);
    // Every actor from the first sample with data on (none before: no tracefs, no syscall series).
    if (!this.actorsShown) for (const actor of ACTORS) this.byActor.inc({ actor }, 0);
    this.actorsShown = true;
    for (const a of s.byActor) this.byActor.inc({ actor: a.actor }, a.count);
    for (const p of s.tableOpensByProcess) this.tableOpens?.inc({ comm: p.comm }, p.count);
    for (const w of s.lockWait) this.lockWait.inc({ syscall: w.syscall, kind: w.kind }, w.seconds);
    for (const d of s.durations) this.duration.addCounts({ syscall: d.syscall }, d.counts, d.sum);
    this.lost.inc(s.lost);
    this.events.inc(s.events);
    this.parseErrors.inc(s.parseErrors);
    this.armedGauge.set(s.armed ? 1 : 0);
    this.armsCounter.inc(s.arms);
    this.modeGauge.reset();
    this.modeGauge.set({ mode: this.options.mode }, 1);
  }

  async close(): Promise<void> {
    const s = this.source;
    this.source = undefined;
    await s?.close();
  }
}

function bufferSize(v: FlagValue): string | undefined {
  if (v === 'auto') return undefined;
  return /^\d+$/.test(String(v)) ? between(16, 1 << 20, ' KiB')(Number(v)) : 'must be auto or a size in KiB';
}

export const tracefsCollector = defineCollector({
  name: 'tracefs',
  defaultEnabled: true,
  help: 'exact mount syscall counts, durations, errors and lock wait from tracefs (root or CAP_SYS_ADMIN; no data otherwise).',
  flags: [
    {
      name: 'path',
      kind: 'path',
      default: undefined,
      help: 'tracefs mount point (default: <path.sysfs>/kernel/tracing, else <path.sysfs>/kernel/debug/tracing; mounted at the first when no tracefs is mounted).',
    },
    {
      name: 'mode',
      kind: 'string',
      default: 'on-demand',
      help: "When the syscall and lock tracepoints are enabled (every syscall on the host pays for them while they are): on-demand (while container starts at the storm page's start rate, mount events, the table size or the namespace_sem probe say a storm may be starting, until a minute after it calms) or always.",
      check: oneOf(['on-demand', 'always']),
    },
    {
      name: 'calm',
      kind: 'duration',
      default: 60_000,
      help: 'In mode on-demand, how long after the last storm signal the tracepoints are disabled again.',
      check: (v) => ((v as number) >= 1000 ? undefined : 'must be at least 1s'),
    },
    {
      name: 'buffer-size',
      kind: 'string',
      default: 'auto',
      help: `Ring buffer per CPU of the exporter's tracefs instance, in KiB, or auto: 32 MiB in all, 512 KiB to 8 MiB per CPU (about a second of a 100,000 syscalls/s storm the reader could not drain). Raise it when ${M.traceEventsLost} rises.`,
      check: bufferSize,
    },
    {
      name: 'format',
      kind: 'string',
      default: 'auto',
      help: 'How trace events are read: raw (the binary per-CPU trace_pipe_raw pages; the kernel does not format them), text (trace_pipe; costs the kernel a printf per event), or auto (raw where its page format is one this reader knows, else text).',
      check: oneOf(['auto', 'raw', 'text']),
    },
    {
      name: 'readers',
      kind: 'bool',
      default: false,
      help: `Also count opens of mount table files (/proc/<pid>/mountinfo, /proc/mounts …) by process in ${M.mountTableOpensByProcess}: the readers that re-read the whole table on every change (systemd, kubelet). The storm page names them as its cause where their reading outlasts the mounts' own work (alerts/README.md). Its in-kernel filter reads every opened path on the host while the tracepoints are enabled: here about 450 ns per open of any file, 18 % of an open + close (BENCHMARKS.md). Linux 5.17+.`,
    },
    {
      name: 'top-processes',
      kind: 'int',
      default: 10,
      help: `Process names given their own series in ${M.mountSyscallsByProcess} (the first seen keep them); the rest are "other".`,
      check: between(0, 100),
    },
  ],
  options: (value) => ({
    path: value('path') as string | undefined,
    bufferSizeKb: value('buffer-size') === 'auto' ? ('auto' as const) : Number(value('buffer-size')),
    mode: value('mode') as TraceMode,
    calmMs: value('calm') as number,
    topProcesses: value('top-processes') as number,
    format: value('format') as TraceFormat,
    readers: value('readers') as boolean,
  }),
  create: (ctx, o) => new TracefsCollector(ctx, o),
});
