/**
 * Lock-wait probes. The kernel keeps no counter of time spent waiting for the global mount locks, so
 * we time two operations that must take them:
 *  - namespace_sem: the first 4 KiB read() of the watched mountinfo takes namespace_sem for reading
 *    and queues behind waiting mount writers; one chunk costs nearly the same at any table size.
 *  - mount_lock: stat() of a path whose lookup crosses a mount point samples the mount_lock seqlock
 *    in path_init and spins while a writer holds it; timed over a batch, reported per call.
 * A probe that does not return within the timeout is a stall, observed as the whole timeout.
 */
import { LATENCY_BUCKETS } from '../exposition';
import { ProbeTimeoutError } from '../errors';
import { BaselineEstimator } from './baseline';
import type { Collector, CollectorContext } from './collector';

export const PROBES = ['namespace_sem', 'mount_lock'] as const;
type Probe = (typeof PROBES)[number];

export class ProbesCollector implements Collector {
  readonly name = 'probes';
  private readonly duration;
  private readonly estimate;
  private readonly baseline;
  private readonly timeouts;
  private readonly estimators: Record<Probe, BaselineEstimator>;
  private readonly statPath: string;

  constructor(private readonly ctx: CollectorContext) {
    const e = ctx.exposition;
    this.duration = e.histogram('mountstorm_probe_duration_seconds', 'Lock-wait probe durations: namespace_sem = first 4 KiB read() of mountinfo; mount_lock = stat() across a mount point, per call.', LATENCY_BUCKETS, ['probe']);
    this.estimate = e.gauge('mountstorm_lock_wait_estimate_seconds', 'How far the recent median of each probe sits above its learned quiet baseline.', ['lock']);
    this.baseline = e.gauge('mountstorm_probe_baseline_seconds', 'Learned quiet baseline of each probe (10th percentile over the baseline window).', ['probe']);
    this.timeouts = e.counter('mountstorm_probe_timeouts_total', 'Probes that stayed blocked in the kernel past the probe timeout.', ['probe']);
    const windowSize = Math.min(7200, Math.ceil(ctx.config.probes.baselineWindowMs / ctx.config.sampleIntervalMs));
    this.estimators = { namespace_sem: new BaselineEstimator(windowSize), mount_lock: new BaselineEstimator(windowSize) };
    this.statPath = ctx.config.probes.statPath ?? ctx.paths.proc('sys/fs');
  }

  private async time(probe: Probe): Promise<{ seconds: number; timedOut: boolean }> {
    try {
      const seconds =
        probe === 'namespace_sem'
          ? await this.ctx.probes.run({ kind: 'first-read', path: this.ctx.mountinfoPath })
          : await this.ctx.probes.run({ kind: 'stat-batch', path: this.statPath, count: this.ctx.config.probes.statBatch });
      return { seconds, timedOut: false };
    } catch (err) {
      if (err instanceof ProbeTimeoutError) return { seconds: this.ctx.config.probes.timeoutMs / 1000, timedOut: true };
      throw err;
    }
  }

  async update(): Promise<void> {
    // Sequential: the probes share one worker and must not time each other. While an earlier probe
    // is still blocked in the kernel nothing new is sent; its stall was observed once already.
    for (const probe of PROBES) {
      if (this.ctx.probes.wedged) continue;
      const r = await this.time(probe);
      if (r.timedOut) this.timeouts.inc({ probe });
      this.duration.observe({ probe }, r.seconds);
      const est = this.estimators[probe];
      est.observe(r.seconds);
      const b = est.baseline();
      if (b !== undefined) this.baseline.set({ probe }, b);
      const v = est.estimate();
      if (v !== undefined) this.estimate.set({ lock: probe }, v);
    }
  }
}
