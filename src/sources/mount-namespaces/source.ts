/**
 * The mount-namespaces thread (thread.ts) as the main thread sees it: the latest walk, and the mount
 * events counted since the last read, taken from shared memory without a message.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  COUNTER,
  COUNTERS,
  type EventScope,
  type NamespacesMessage,
  type NamespacesReady,
  type WalkResult,
} from './thread';

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
  private readonly worker: Worker;
  private readonly counters = new BigInt64Array(new SharedArrayBuffer(8 * COUNTERS));
  private readonly control = new Int32Array(new SharedArrayBuffer(4));
  private readonly taken = new Array<bigint>(COUNTERS).fill(0n);
  private latest: WalkResult | undefined;
  private stopped: Promise<void>;
  /** What the thread could set up, once it said so. */
  readonly ready: Promise<NamespacesReady>;
  private onHot: (attachesPerSecond: number) => void = () => undefined;
  private onError: (message: string) => void = () => undefined;

  constructor(opts: {
    watchedNs: string;
    fallbackNs: string;
    procfs: string;
    leakScanMs: number;
    scope: EventScope;
    walkIntervalMs: number;
    hotPerSecond: number;
  }) {
    this.worker = new Worker(path.join(__dirname, 'thread.js'), {
      workerData: { ...opts, counters: this.counters.buffer, control: this.control.buffer },
    });
    this.worker.unref();
    let ready: (r: NamespacesReady) => void = () => undefined;
    this.ready = new Promise((r) => (ready = r));
    let done: () => void = () => undefined;
    this.stopped = new Promise((r) => (done = r));
    this.worker.on('message', (m: NamespacesMessage) => {
      if (m.type === 'ready') ready(m);
      else if (m.type === 'walk') this.latest = m;
      else if (m.type === 'hot') this.onHot(m.attachesPerSecond);
      else if (m.type === 'error') this.onError(m.message);
      else if (m.type === 'stopped') done();
    });
    this.worker.on('error', (err) => {
      ready({ type: 'ready', walk: { ok: false, reason: err.message }, events: { ok: false, reason: err.message } });
      this.onError(err.message);
      done();
    });
    this.worker.on('exit', () => done());
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

  /** The thread sees the stop flag within a second, closes its descriptors and ends. */
  async close(): Promise<void> {
    Atomics.store(this.control, 0, 1);
    Atomics.notify(this.control, 0);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.stopped, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await this.worker.terminate();
  }
}
