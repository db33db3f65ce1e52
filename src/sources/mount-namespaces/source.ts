/**
 * The mount-namespaces watcher (watcher.ts) as the namespaces collector sees it: the latest walk,
 * and the mount events counted since the last read.
 */
import {
  COUNTER,
  COUNTERS,
  watchNamespaces,
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
  private readonly counters = new BigInt64Array(COUNTERS);
  private readonly taken = new Array<bigint>(COUNTERS).fill(0n);
  private latest: WalkResult | undefined;
  private ready: NamespacesReady | undefined;
  private closing = false;
  private readonly watcher: { stop(): void };
  private readonly stopped: Promise<void>;
  private done: () => void = () => undefined;
  private onHot: (attachesPerSecond: number) => void = () => undefined;
  private onError: (message: string) => void = () => undefined;

  constructor(opts: Omit<NamespacesSettings, 'counters'>) {
    this.stopped = new Promise((r) => (this.done = r));
    this.watcher = watchNamespaces({ ...opts, counters: this.counters }, (m) => this.listen(m));
  }

  /** What the watcher could set up: each facility, or why not (said once it started, which the constructor did). */
  get facilities(): NamespacesReady {
    return this.ready as NamespacesReady;
  }

  private listen(m: NamespacesMessage): void {
    if (m.type === 'ready') this.ready = m;
    else if (m.type === 'walk') this.latest = m;
    else if (m.type === 'hot') this.onHot(m.attachesPerSecond);
    else if (m.type === 'error') {
      if (!this.closing) this.onError(m.message);
    } else if (m.type === 'stopped') this.done();
  }

  /** Called when mount events arrive faster than hotPerSecond: a storm may be starting. */
  hot(listener: (attachesPerSecond: number) => void): void {
    this.onHot = listener;
  }

  errors(listener: (message: string) => void): void {
    this.onError = listener;
  }

  read(): NamespacesReading {
    const out: NamespacesReading = {};
    const delta = (i: number) => {
      const v = this.counters[i] as bigint;
      const d = v - (this.taken[i] as bigint);
      this.taken[i] = v;
      return Number(d);
    };
    if (this.latest) {
      const { type: _t, ...walk } = this.latest;
      out.walk = walk;
      out.created = delta(COUNTER.created);
    }
    if (this.facilities.events.ok) {
      out.events = {
        attach: delta(COUNTER.attach),
        detach: delta(COUNTER.detach),
        overflows: delta(COUNTER.overflows),
        malformed: delta(COUNTER.malformed),
      };
    }
    return out;
  }

  /** The watcher sees the stop within a second (a poll out on libuv's pool comes back), closes its descriptors and says so. */
  async close(): Promise<void> {
    this.closing = true;
    this.watcher.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.stopped, new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
  }
}
