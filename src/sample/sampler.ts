/**
 * The sampling loop. Churn and lock wait happen between scrapes, so the exporter samples on its own
 * clock (--sample.interval) and scrapes render the latest sample. Every collector collects isolated
 * and timed each tick; one failing never stops the others. Then every part is applied to the metrics
 * in one synchronous block, and the Sample goes to the listeners (the landing page's history, the
 * alert evaluator). A tick never overlaps the previous one: a tick that is due while the last still
 * runs is counted as an overrun and skipped, not queued.
 */
import { promises as fs } from 'node:fs';
import type { Collector } from '../collectors/collector';
import { errorMessage } from '../errors';
import type { Exposition } from '../exposition';
import type { Logger } from '../log';
import type { Sample } from './sample';
import { EXPORTER_METRICS } from '../metric-names';

const M = EXPORTER_METRICS;

/**
 * The event loop's delay: how late a timer due every TICK_MS fires, so a block of the loop that long
 * or longer always shows. Node's monitorEventLoopDelay was not used: its default 10 ms timer woke the
 * exporter 100 times a second (most of its CPU on a quiet host), and after each reset it drops the
 * next tick, so a block just after a sample went unseen.
 */
class LoopDelay {
  static readonly TICK_MS = 100;
  private delays: number[] = [];
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    // Bounded should samples stop being taken (ten minutes of ticks).
    if (this.delays.length < 6000) this.delays.push(Math.max(0, now - this.last - LoopDelay.TICK_MS));
    this.last = now;
  }, LoopDelay.TICK_MS).unref();

  /** The 99th percentile of the delays since the last call, in seconds. */
  take(): number {
    const d = this.delays.sort((a, b) => a - b);
    this.delays = [];
    return d.length === 0 ? 0 : (d[Math.ceil(0.99 * d.length) - 1] as number) / 1e3;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export class Sampler {
  private readonly success;
  private readonly duration;
  private readonly overruns;
  private readonly samples;
  private readonly lastSample;
  private readonly cpu;
  private readonly rss;
  private readonly heap;
  private readonly fds;
  private readonly loopDelay;
  private readonly loopDelayTimer = new LoopDelay();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly cpuBase = process.cpuUsage();
  private stopped = false;
  /** Collectors still running from an earlier sample (late), and whether they are past timeoutMs (failed). */
  private readonly pending = new Map<Collector, { failed: boolean }>();
  /** How long a sample after the first waits for a collector: half an interval, at most timeoutMs. */
  private readonly waitMs: number;
  /** Parts that came after their collector's deadline: applied with the next sample, so no count is lost. */
  private readonly late = new Map<Collector, unknown>();
  private readonly listeners: Array<(s: Sample) => void> = [];
  private lastAt: number | undefined;

  constructor(
    private readonly collectors: Collector[],
    private readonly exposition: Exposition,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {
    this.waitMs = Math.min(timeoutMs, intervalMs / 2);
    const e = exposition;
    this.success = e.gauge(M.sampleCollectorSuccess, 'Whether the collector succeeded in the last sample.', [
      'collector',
    ]);
    this.duration = e.gauge(M.sampleCollectorDurationSeconds, 'How long the collector took in the last sample.', [
      'collector',
    ]);
    this.overruns = e.counter(M.sampleOverruns, 'Sample ticks skipped because the previous sample was still running.');
    this.samples = e.counter(M.samples, 'Samples completed.');
    this.lastSample = e.gauge(M.lastSampleTimestampSeconds, 'Unix time at which the last sample completed.');
    this.cpu = e.counter(M.processCpuSeconds, 'Total user and system CPU time spent in seconds.');
    this.rss = e.gauge(M.processResidentMemoryBytes, 'Resident memory size in bytes.');
    this.heap = e.gauge(M.processHeapBytes, 'V8 heap in use, in bytes.');
    this.fds = e.gauge(M.processOpenFds, 'Number of open file descriptors.');
    this.loopDelay = e.gauge(
      M.eventLoopDelayP99Seconds,
      "99th percentile of the exporter's event-loop delay over the last sample interval (timed every 100 ms).",
    );
    e.gauge(M.processStartTimeSeconds, 'Start time of the process since unix epoch in seconds.').set(
      Math.round(Date.now() / 1000 - process.uptime()),
    );
  }

  /** Hands every completed sample to `listener` (a failing listener is logged, never fails the sample). */
  onSample(listener: (s: Sample) => void): void {
    this.listeners.push(listener);
  }

  /** Runs one sample now; resolves when every collector has finished. */
  sampleOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.runAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Runs one collector for a sample. The sample waits for it at most half an interval (waitMs): a
   * collector still running then, stuck behind the mount locks in a storm say, is late, not failed:
   * the sample goes on without its part, so the others (the trace, the starts: what pages) keep
   * their cadence, and its part is applied with the first sample after it comes, in place of a
   * fresh one, so no count is lost and no gauge it set is hidden. It is not started again until it
   * returns, so no threads pile up behind a stalled lock. Still running after timeoutMs, it is
   * failed until it returns. The first sample waits up to timeoutMs: it sets every collector's
   * baseline and series, and scrapes see data only once it completes, so the first scrape is whole.
   */
  private async runOne(c: Collector): Promise<{ ok: boolean; seconds: number; part?: unknown }> {
    const start = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
    const pending = this.pending.get(c);
    if (pending) return { ok: !pending.failed, seconds: 0 };
    // A late part that has come is this sample's, alone: a fresh part applied after it would hide
    // its gauges (a probe's estimate, stuck because the lock was held, is the figure that matters).
    if (this.late.has(c)) return { ok: true, seconds: 0 };
    let timer: NodeJS.Timeout | undefined;
    const collected = c.collect();
    // Before the first sample has completed (no lastAt yet), up to timeoutMs.
    const waitMs = this.lastAt === undefined ? this.timeoutMs : this.waitMs;
    const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
    try {
      const r = await Promise.race([collected.then((part) => ({ part })), deadline]);
      if (r === 'late') {
        const state = { failed: false };
        this.pending.set(c, state);
        const timedOut = () => {
          state.failed = true;
          this.log.failure(`collector:${c.name}`, 'error', 'collector timed out', {
            collector: c.name,
            timeout_ms: this.timeoutMs,
          });
        };
        const failTimer = this.timeoutMs > waitMs ? setTimeout(timedOut, this.timeoutMs - waitMs) : undefined;
        if (!failTimer) timedOut();
        collected.then(
          (part) => {
            clearTimeout(failTimer);
            this.pending.delete(c);
            if (part !== undefined) this.late.set(c, part);
            this.log.recovered(`collector:${c.name}`, `collector ${c.name} succeeded again`);
          },
          (err: unknown) => {
            clearTimeout(failTimer);
            this.pending.delete(c);
            this.log.failure(`collector:${c.name}`, 'error', 'collector failed', {
              collector: c.name,
              err: errorMessage(err),
            });
          },
        );
        return { ok: !state.failed, seconds: elapsed() };
      }
      this.log.recovered(`collector:${c.name}`, `collector ${c.name} succeeded again`);
      return { ok: true, seconds: elapsed(), part: r.part };
    } catch (err) {
      this.log.failure(`collector:${c.name}`, 'error', 'collector failed', {
        collector: c.name,
        err: errorMessage(err),
      });
      return { ok: false, seconds: elapsed() };
    } finally {
      clearTimeout(timer);
    }
  }

  private async runAll(): Promise<void> {
    const results = await Promise.all(this.collectors.map((c) => this.runOne(c)));
    const fdCount = await fs.readdir('/proc/self/fd').then(
      (l) => l.length,
      () => undefined,
    );
    // From here on synchronous: a render sees the whole sample or none of it.
    const now = Date.now();
    const sample: Sample = {
      at: now,
      seconds: this.lastAt === undefined ? this.intervalMs / 1000 : (now - this.lastAt) / 1000,
      parts: {},
      collectors: {},
    };
    this.lastAt = now;
    this.collectors.forEach((c, i) => {
      const r = results[i] as { ok: boolean; seconds: number; part?: unknown };
      let ok = r.ok;
      const late = this.late.get(c);
      this.late.delete(c);
      const parts = [late, ok ? r.part : undefined].filter((p) => p !== undefined);
      if (parts.length > 0) {
        try {
          for (const p of parts) c.apply(p);
          (sample.parts as Record<string, unknown>)[c.name] = parts[parts.length - 1];
        } catch (err) {
          ok = false;
          this.log.failure(`collector:${c.name}`, 'error', 'collector failed', {
            collector: c.name,
            err: errorMessage(err),
          });
        }
      }
      sample.collectors[c.name] = { ok, seconds: r.seconds };
      this.success.set({ collector: c.name }, ok ? 1 : 0);
      this.duration.set({ collector: c.name }, r.seconds);
    });
    const u = process.cpuUsage(this.cpuBase);
    this.cpu.reset();
    this.cpu.inc((u.user + u.system) / 1e6);
    const mem = process.memoryUsage();
    this.rss.set(mem.rss);
    this.heap.set(mem.heapUsed);
    if (fdCount !== undefined) this.fds.set(fdCount);
    this.loopDelay.set(this.loopDelayTimer.take());
    this.samples.inc();
    this.lastSample.set(now / 1000);
    this.exposition.invalidate();
    for (const l of this.listeners) {
      try {
        l(sample);
      } catch (err) {
        this.log.failure('sample-listener', 'warn', 'after-sample listener failed', { err: errorMessage(err) });
      }
    }
  }

  /** Starts the loop on a fixed cadence (the first sample runs immediately). */
  start(): Promise<void> {
    const first = this.sampleOnce();
    this.timer = setInterval(() => {
      if (this.stopped) return;
      if (this.running) {
        this.overruns.inc();
        this.exposition.invalidate();
        return;
      }
      void this.sampleOnce();
    }, this.intervalMs);
    return first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.loopDelayTimer.stop();
    await this.running;
    await Promise.all(this.collectors.map((c) => c.close?.().catch(() => undefined) ?? Promise.resolve()));
  }
}
