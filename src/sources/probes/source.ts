/**
 * Lock-wait probes. The kernel keeps no counter of time spent waiting for the global mount locks, so
 * the source times two operations that must take them, on the mount-locks thread (so they time the
 * syscall, not Node's thread pool, and a stall blocks that thread, not the event loop):
 *  - namespace_sem: the first 4 KiB read() of the watched mountinfo takes namespace_sem for reading
 *    and queues behind waiting mount writers; one chunk costs nearly the same at any table size.
 *  - mount_lock: stat() of a path whose lookup crosses a mount point samples the mount_lock seqlock
 *    in path_init and spins while a writer holds it; timed over a batch, reported per call.
 * A probe that does not return within the timeout is a stall, observed as the whole timeout. Each
 * probe's quiet baseline and the estimate above it come with every reading (baseline.ts).
 */
import { ProbeTimeoutError } from '../../errors';
import { BaselineEstimator } from './baseline';
import type { MountLocksThread } from '../mount-locks/source';
import { ProbeRunner } from './runner';

export const PROBES = ['namespace_sem', 'mount_lock'] as const;
export type Probe = (typeof PROBES)[number];

export interface ProbeReading {
  /** Seconds the probe took (the whole timeout for a stall). */
  seconds: number;
  timedOut: boolean;
  /** The learned quiet baseline, and how far the recent median sits above it. */
  baseline?: number;
  estimate?: number;
  /** Enough observations (LEARNED_AFTER) that the baseline means something: the first few probes of a cold start are slow. */
  learned: boolean;
}

/** Observations before a baseline is taken for learned. */
export const LEARNED_AFTER = 30;

/** One sample's probes; a probe is absent while an earlier one is still blocked in the kernel. */
export type ProbesSnapshot = Partial<Record<Probe, ProbeReading>>;

export interface ProbesSourceOptions {
  mountinfoPath: string;
  statPath: string;
  statBatch: number;
  timeoutMs: number;
  /** Observations in the baseline window (window ÷ sample interval). */
  windowSize: number;
}

export class ProbesSource {
  private readonly runner: ProbeRunner;
  private readonly estimators: Record<Probe, BaselineEstimator>;

  constructor(
    private readonly opts: ProbesSourceOptions,
    thread: MountLocksThread,
  ) {
    this.runner = new ProbeRunner(opts.timeoutMs, thread);
    this.estimators = {
      namespace_sem: new BaselineEstimator(opts.windowSize),
      mount_lock: new BaselineEstimator(opts.windowSize),
    };
  }

  private async time(probe: Probe): Promise<{ seconds: number; timedOut: boolean }> {
    try {
      const seconds =
        probe === 'namespace_sem'
          ? await this.runner.run({ kind: 'first-read', path: this.opts.mountinfoPath })
          : await this.runner.run({ kind: 'stat-batch', path: this.opts.statPath, count: this.opts.statBatch });
      return { seconds, timedOut: false };
    } catch (err) {
      if (err instanceof ProbeTimeoutError) return { seconds: this.opts.timeoutMs / 1000, timedOut: true };
      throw err;
    }
  }

  async read(): Promise<ProbesSnapshot> {
    const out: ProbesSnapshot = {};
    // Sequential: the probes share one thread and must not time each other. While an earlier probe
    // is still blocked in the kernel nothing new is sent; its stall was observed once already.
    for (const probe of PROBES) {
      if (this.runner.wedged) continue;
      const r = await this.time(probe);
      const est = this.estimators[probe];
      est.observe(r.seconds);
      out[probe] = {
        ...r,
        baseline: est.baseline(),
        estimate: est.estimate(),
        learned: est.observations >= LEARNED_AFTER,
      };
    }
    return out;
  }
}
