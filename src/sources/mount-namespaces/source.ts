/**
 * The mount-namespaces watcher (watcher.ts) as the main thread sees it: the latest walk, and the
 * mount events counted since the last read, taken from shared memory without a message. The
 * watcher runs on the kernel-events thread; where that thread died, the next read starts it again.
 */
import type { KernelEventsThread } from '../kernel-events/source';
import {
  COUNTER,
  COUNTERS,
  type NamespacesMessage,
  type NamespacesReady,
  type NamespacesSettings,
  type WalkResult,
} from './watcher';

export interface EventCounts {
  attach: number;
  detach: number;
  overflows: number;
  malformed: number;
}

export interface NamespacesReading {
  /** The latest walk; undefined where the kernel has no NS_MNT_GET_NEXT (or the first walk is not in yet). */
  walk?: Omit<WalkResult, 'type'>;
  /** Mount events since the last read; undefined where fanotify mount events do not work. */
  events?: EventCounts;
  /** Mount namespaces made since the last read that lived until a walk (walk only). */
  created?: number;
}

export class MountNamespacesSource {
  private readonly counters = new BigInt64Array(new SharedArrayBuffer(8 * COUNTERS));
  private readonly taken = new Array<bigint>(COUNTERS).fill(0n);
  private readonly settings: NamespacesSettings;
  private latest: WalkResult | undefined;
  private generation: number;
  private closing = false;
  private stopped: Promise<void> = Promise.resolve();
  private done: () => void = () => undefined;
  private resolveReady: (r: NamespacesReady) => void = () => undefined;
  /** What the watcher could set up, once it said so. */
  readonly ready: Promise<NamespacesReady>;
  private onHot: (attachesPerSecond: number) => void = () => undefined;
  private onError: (message: string) => void = () => undefined;

  constructor(
    opts: Omit<NamespacesSettings, 'counters'>,
    private readonly thread: KernelEventsThread,
  ) {
    this.settings = { ...opts, counters: this.counters.buffer };
    this.ready = new Promise((r) => (this.resolveReady = r));
    this.generation = this.watch();
  }

  /** Starts the watcher on the thread (starting the thread where none runs); the thread's generation. */
  private watch(): number {
    this.stopped = new Promise((r) => (this.done = r));
    this.thread.watchNamespaces(
      this.settings,
      (m) => this.listen(m),
      (err) => this.ended(err),
    );
    return this.thread.generation;
  }

  private listen(m: NamespacesMessage): void {
    if (m.type === 'ready') this.resolveReady(m);
    else if (m.type === 'walk') this.latest = m;
    else if (m.type === 'hot') this.onHot(m.attachesPerSecond);
    else if (m.type === 'error') this.onError(m.message);
    else if (m.type === 'stopped') this.done();
  }

  /** The thread ended: the watcher with it. */
  private ended(err: Error): void {
    this.resolveReady({
      type: 'ready',
      walk: { ok: false, reason: err.message },
      events: { ok: false, reason: err.message },
    });
    if (!this.closing) this.onError(err.message);
    this.done();
  }

  /** Called when mount events arrive faster than hotPerSecond: a storm may be starting. */
  hot(listener: (attachesPerSecond: number) => void): void {
    this.onHot = listener;
  }

  errors(listener: (message: string) => void): void {
    this.onError = listener;
  }

  async read(): Promise<NamespacesReading> {
    const r = await this.ready;
    if (this.thread.generation !== this.generation && !this.closing) {
      // The thread died (its walk with it) and may have been started again for the trace source: watch there.
      this.latest = undefined;
      this.generation = this.watch();
    }
    const out: NamespacesReading = {};
    const delta = (i: number) => {
      const v = Atomics.load(this.counters, i);
      const d = v - (this.taken[i] as bigint);
      this.taken[i] = v;
      return Number(d);
    };
    if (this.latest) {
      const { type: _t, ...walk } = this.latest;
      out.walk = walk;
      out.created = delta(COUNTER.created);
    }
    if (r.events.ok) {
      out.events = {
        attach: delta(COUNTER.attach),
        detach: delta(COUNTER.detach),
        overflows: delta(COUNTER.overflows),
        malformed: delta(COUNTER.malformed),
      };
    }
    return out;
  }

  /** The watcher sees the stop within a second, closes its descriptors and says so; the thread stays. */
  async close(): Promise<void> {
    this.closing = true;
    this.thread.stopNamespaces();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.stopped, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
  }
}
