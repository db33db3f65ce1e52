/** The lock-wait probes (src/sources/probes/) as metrics: each probe's durations, baseline and estimate. */
import { LATENCY_BUCKETS } from '../exposition';
import { positive } from '../flags';
import { PROBES, ProbesSource, type ProbesSnapshot } from '../sources/probes/source';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { PROBES_METRICS } from '../metric-names';

const M = PROBES_METRICS;

export interface ProbesOptions {
  timeoutMs: number;
  /** Default: <path.procfs>/sys/fs. */
  statPath: string | undefined;
  statBatch: number;
  baselineWindowMs: number;
}

export class ProbesCollector implements Collector<ProbesSnapshot> {
  readonly name = 'probes';
  private readonly duration;
  private readonly estimate;
  private readonly baseline;
  private readonly timeouts;
  private readonly source: ProbesSource;

  constructor(ctx: CollectorContext, o: ProbesOptions) {
    const e = ctx.exposition;
    this.duration = e.histogram(
      M.probeDurationSeconds,
      'Lock-wait probe durations: namespace_sem = first 4 KiB read() of mountinfo; mount_lock = stat() across a mount point, per call.',
      LATENCY_BUCKETS,
      ['probe'],
    );
    this.estimate = e.gauge(
      M.lockWaitEstimateSeconds,
      'How far the recent median of each probe sits above its learned quiet baseline.',
      ['lock'],
    );
    this.baseline = e.gauge(
      M.probeBaselineSeconds,
      'Learned quiet baseline of each probe (10th percentile over the baseline window).',
      ['probe'],
    );
    this.timeouts = e.counter(M.probeTimeouts, 'Probes that stayed blocked in the kernel past the probe timeout.', [
      'probe',
    ]);
    this.source = new ProbesSource(
      {
        mountinfoPath: ctx.mountinfoPath,
        statPath: o.statPath ?? ctx.paths.proc('sys/fs'),
        statBatch: o.statBatch,
        timeoutMs: o.timeoutMs,
        windowSize: Math.min(7200, Math.ceil(o.baselineWindowMs / ctx.sampleIntervalMs)),
      },
      ctx.threads.mountLocks,
    );
  }

  collect(): Promise<ProbesSnapshot> {
    return this.source.read();
  }

  apply(r: ProbesSnapshot): void {
    for (const probe of PROBES) {
      const p = r[probe];
      if (!p) continue;
      if (p.timedOut) this.timeouts.inc({ probe });
      this.duration.observe({ probe }, p.seconds);
      if (p.baseline !== undefined) this.baseline.set({ probe }, p.baseline);
      if (p.estimate !== undefined) this.estimate.set({ lock: probe }, p.estimate);
    }
  }
}

export const probesCollector = defineCollector({
  name: 'probes',
  defaultEnabled: true,
  help: 'namespace_sem and mount_lock timing probes and the lock-wait estimates.',
  flags: [
    {
      name: 'timeout',
      kind: 'duration',
      default: 10000,
      help: 'A probe still blocked in the kernel after this long is reported as a stall of this length.',
      check: (v) => ((v as number) >= 10 ? undefined : 'must be at least 10ms'),
    },
    {
      name: 'stat-path',
      kind: 'path',
      default: undefined,
      help: 'Path stat()ed by the mount_lock probe; its lookup must cross a mount point (default: <path.procfs>/sys/fs).',
    },
    {
      name: 'stat-batch',
      kind: 'int',
      default: 32,
      help: 'stat() calls per mount_lock probe; the probe reports the time per call.',
      check: positive,
    },
    {
      name: 'baseline-window',
      kind: 'duration',
      default: 1_800_000,
      help: 'Window over which each probe learns its quiet baseline (its 10th percentile).',
      check: (v) => ((v as number) >= 10_000 ? undefined : 'must be at least 10s'),
    },
  ],
  options: (value) => ({
    timeoutMs: value('timeout') as number,
    statPath: value('stat-path') as string | undefined,
    statBatch: value('stat-batch') as number,
    baselineWindowMs: value('baseline-window') as number,
  }),
  create: (ctx, o) => new ProbesCollector(ctx, o),
});
