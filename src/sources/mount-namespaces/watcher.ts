/**
 * The mount-namespaces watcher: every mount namespace of the host, and every mount attached to or
 * detached from them, without reading a mount table or tracing a syscall. It runs on the
 * kernel-events thread (src/sources/kernel-events/thread.ts), beside the trace owner: neither ever
 * waits on the mount locks.
 *
 *  - The walk (NS_MNT_GET_PREV/NEXT, Linux 6.12+), once per sample interval: how many namespaces,
 *    their mounts in all, the largest. It finds namespaces no process lives in (held by a bind
 *    mount of their nsfs file, or an open descriptor), which a /proc/*\/ns/mnt scan misses.
 *  - Mount events (fanotify, Linux 6.15+): one per attach or detach in a marked namespace, counted
 *    exactly, mounts that live for milliseconds included. Scope `node` marks every namespace the walk
 *    finds (the mount locks are global: a storm in any namespace is the node's); `watched` marks
 *    the watched one only.
 *
 * The watcher waits for events in poll(2) on a thread of libuv's pool (so the thread's event loop,
 * and the trace owner's drains, go on meanwhile), and wakes for the next walk; the counts go to the
 * main thread through shared memory, so nothing waits on a message. An attach rate past
 * `hotPerSecond` over 100 ms is told to the main thread at once (`hot`), so tracing can be armed
 * within a sample.
 */
import * as fs from 'node:fs';
import { errorMessage } from '../../errors';
import { markMountNamespace, openMountEvents, readEvents, waitEventsLater } from '../../kernel/fanotify';
import { mountNamespaceInfo, walkMountNamespaces } from '../../kernel/nsfs';
import { countMountEvents, type MountEventCounts } from './records';

export type EventScope = 'node' | 'watched' | 'off';

export interface NamespacesSettings {
  /** The watched namespace's nsfs file, <procfs>/<pid>/ns/mnt. */
  watchedNs: string;
  /** Where the walk starts when the watched namespace cannot be opened: this thread's own, under path.procfs. */
  fallbackNs: string;
  /** path.procfs: whose processes' ns/mnt links say which namespaces a process holds. */
  procfs: string;
  /** How often the walk also looks for namespaces no process holds (a /proc scan). */
  leakScanMs: number;
  scope: EventScope;
  walkIntervalMs: number;
  /** Attaches per second, over 100 ms, that count as a storm starting. */
  hotPerSecond: number;
  /** BigInt64: attach, detach, overflows, malformed, created (COUNTER). */
  counters: SharedArrayBuffer;
}

/**
 * Counters the thread adds to and the source reads deltas of. created: mount namespaces the walk
 * found that no earlier walk had (64-bit ids, never reused: the first walk only learns them).
 */
export const COUNTER = { attach: 0, detach: 1, overflows: 2, malformed: 3, created: 4 } as const;
export const COUNTERS = 5;

/** What the thread could set up: each facility, or why not. */
export interface NamespacesReady {
  type: 'ready';
  walk: { ok: true } | { ok: false; reason: string };
  events: { ok: true; scope: EventScope } | { ok: false; reason: string };
}

export interface WalkResult {
  type: 'walk';
  namespaces: number;
  mounts: number;
  largest: number;
  /** Namespaces whose events come to the group. */
  marked: number;
  /**
   * Namespaces no process is in (held by a bind mount of their nsfs file, or an open descriptor:
   * leaked, or pinned on purpose), and the mounts in them, from the latest leak scan; undefined before one.
   */
  unheld?: number;
  unheldMounts?: number;
  /** Processes whose ns/mnt link the leak scan could not read (without CAP_SYS_PTRACE, or protected ones). */
  unreadable?: number;
}

export type NamespacesMessage =
  | NamespacesReady
  | WalkResult
  | { type: 'hot'; attachesPerSecond: number }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

const MAX_MARKS = 4096;
const HOT_WINDOW_MS = 100;
/**
 * After a read that found events, the next wait starts this much later: a storm queues events
 * faster than a poll can come back for each, and every trip to libuv's pool and back costs tens of
 * microseconds. 10 ms holds at most a few hundred events of a storm (the queue holds 16,384) and
 * keeps the hot window's answer within its 100 ms.
 */
const EVENT_BATCH_MS = 10;

/**
 * The mount namespaces (nsfs inodes) the processes under `procfs` are in, and how many processes'
 * links could not be read for want of privilege (their namespaces look unheld: an upper bound then).
 */
function processNamespaces(procfs: string): { held: Set<number>; unreadable: number } {
  const held = new Set<number>();
  let unreadable = 0;
  for (const pid of fs.readdirSync(procfs)) {
    if (pid.charCodeAt(0) < 48 || pid.charCodeAt(0) > 57) continue;
    try {
      held.add(fs.statSync(`${procfs}/${pid}/ns/mnt`).ino);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') unreadable++;
      // else exited since readdir
    }
  }
  return { held, unreadable };
}

/**
 * Starts watching; everything it learns goes to `post` (ready first; stopped last, after stop()).
 * Setting up is synchronous; from then on the watcher runs on the event loop of the thread that
 * started it, with its waits on libuv's pool.
 */
export function watchNamespaces(data: NamespacesSettings, post: (m: NamespacesMessage) => void): { stop(): void } {
  const counters = new BigInt64Array(data.counters);
  // The watched namespace's descriptor; where it cannot be opened (PID 1's needs ptrace access),
  // the walk starts from this thread's own namespace: any nsfs descriptor leads to all of them.
  let watched: number | undefined;
  let watchedWhy = '';
  try {
    watched = fs.openSync(data.watchedNs, 'r');
  } catch (err) {
    watchedWhy = `cannot open ${data.watchedNs}: ${errorMessage(err)}`;
  }
  let start: number;
  try {
    start = watched ?? fs.openSync(data.fallbackNs, 'r');
  } catch (err) {
    const reason = `${watchedWhy}; cannot open ${data.fallbackNs}: ${errorMessage(err)}`;
    post({ type: 'ready', walk: { ok: false, reason }, events: { ok: false, reason } });
    post({ type: 'stopped' });
    return { stop: () => undefined };
  }
  let walkOk: NamespacesReady['walk'];
  try {
    mountNamespaceInfo(start);
    walkMountNamespaces(start, () => undefined);
    walkOk = { ok: true };
  } catch (err) {
    const why = errorMessage(err);
    // The walk is for the initial PID namespace with CAP_SYS_ADMIN (hostPID in Kubernetes).
    walkOk = {
      ok: false,
      reason: /EPERM/.test(why) ? `${why} (the walk needs CAP_SYS_ADMIN in the initial PID namespace: hostPID)` : why,
    };
  }
  let fan: number | undefined;
  let events: NamespacesReady['events'] = { ok: false, reason: 'off (--collector.namespaces.events=off)' };
  // node: every namespace the walk finds; without the walk, the watched one only.
  const scope: EventScope = data.scope === 'node' && !walkOk.ok ? 'watched' : data.scope;
  if (scope === 'watched' && watched === undefined) events = { ok: false, reason: watchedWhy };
  else if (scope !== 'off') {
    try {
      fan = openMountEvents();
      if (watched !== undefined) markMountNamespace(fan, watched);
      events = { ok: true, scope };
    } catch (err) {
      if (fan !== undefined) fs.closeSync(fan);
      fan = undefined;
      events = { ok: false, reason: errorMessage(err) };
    }
  }
  post({ type: 'ready', walk: walkOk, events });
  const markAll = fan !== undefined && events.ok && events.scope === 'node';
  const marked = new Set<string>();
  if (walkOk.ok && watched !== undefined && fan !== undefined) marked.add(mountNamespaceInfo(watched).id);

  let nextLeakScan = 0;
  /** The namespaces of the last walk; undefined before the first. */
  let known: Set<string> | undefined;
  let unheld: { namespaces: number; mounts: number; unreadable: number } | undefined;
  const walk = () => {
    let namespaces = 0;
    let mounts = 0;
    let largest = 0;
    const seen = new Set<string>();
    const now = Date.now();
    const scan = now >= nextLeakScan;
    const byInode = scan ? new Map<number, number>() : undefined;
    walkMountNamespaces(start, (info, fd) => {
      namespaces++;
      mounts += info.mounts;
      largest = Math.max(largest, info.mounts);
      seen.add(info.id);
      if (byInode) {
        try {
          byInode.set(fs.fstatSync(fd).ino, info.mounts);
        } catch {
          // gone since the walk found it
        }
      }
      if (markAll && !marked.has(info.id) && marked.size < MAX_MARKS) {
        try {
          markMountNamespace(fan as number, fd);
          marked.add(info.id);
        } catch {
          // gone since the walk found it, or not ours to watch: its events are not counted
        }
      }
    });
    // A namespace that is gone took its mark with it.
    for (const id of marked) if (!seen.has(id)) marked.delete(id);
    if (known) {
      let created = 0;
      for (const id of seen) if (!known.has(id)) created++;
      if (created) Atomics.add(counters, COUNTER.created, BigInt(created));
    }
    known = seen;
    if (byInode) {
      // After the walk: a namespace made since has no entry, one whose last process left since counts (once).
      const { held, unreadable } = processNamespaces(data.procfs);
      for (const ino of held) byInode.delete(ino);
      unheld = { namespaces: byInode.size, mounts: [...byInode.values()].reduce((a, n) => a + n, 0), unreadable };
      nextLeakScan = now + data.leakScanMs;
    }
    post({
      type: 'walk',
      namespaces,
      mounts,
      largest,
      marked: fan === undefined ? 0 : marked.size,
      unheld: unheld?.namespaces,
      unheldMounts: unheld?.mounts,
      unreadable: unheld?.unreadable,
    });
  };

  const buf = Buffer.allocUnsafe(1 << 16);
  const counts: MountEventCounts = { attach: 0, detach: 0, overflows: 0, malformed: 0 };
  let windowStart = Date.now();
  let windowAttaches = 0;
  let lastHot = 0;
  let nextWalk = Date.now();
  const readAll = () => {
    for (;;) {
      let n: number;
      try {
        n = readEvents(fan as number, buf);
      } catch (err) {
        post({ type: 'error', message: `mount events: ${errorMessage(err)}` });
        break;
      }
      if (n === 0) break;
      counts.attach = counts.detach = counts.overflows = counts.malformed = 0;
      countMountEvents(buf, n, counts);
      Atomics.add(counters, COUNTER.attach, BigInt(counts.attach));
      Atomics.add(counters, COUNTER.detach, BigInt(counts.detach));
      if (counts.overflows) Atomics.add(counters, COUNTER.overflows, BigInt(counts.overflows));
      if (counts.malformed) Atomics.add(counters, COUNTER.malformed, BigInt(counts.malformed));
      const t = Date.now();
      if (t - windowStart >= HOT_WINDOW_MS) {
        windowStart = t;
        windowAttaches = 0;
      }
      windowAttaches += counts.attach;
      if (windowAttaches * (1000 / HOT_WINDOW_MS) >= data.hotPerSecond && t - lastHot >= 1000) {
        lastHot = t;
        post({ type: 'hot', attachesPerSecond: windowAttaches * (1000 / HOT_WINDOW_MS) });
      }
    }
  };
  let stopping = false;
  /** A timer to the next step, or undefined while a poll is out on the pool (it calls step when back). */
  let timer: NodeJS.Timeout | undefined;
  const finish = () => {
    if (fan !== undefined) fs.closeSync(fan);
    fs.closeSync(start);
    post({ type: 'stopped' });
  };
  const step = (): void => {
    timer = undefined;
    if (stopping) return finish();
    const now = Date.now();
    if (walkOk.ok && now >= nextWalk) {
      try {
        walk();
      } catch (err) {
        post({ type: 'error', message: `namespace walk: ${errorMessage(err)}` });
      }
      nextWalk = now + data.walkIntervalMs;
    }
    // Wake for the next walk, or within a second to see a stop.
    const wait = Math.max(1, Math.min(walkOk.ok ? nextWalk - Date.now() : 1000, 1000));
    if (fan === undefined) {
      timer = setTimeout(step, wait);
      return;
    }
    waitEventsLater(fan, wait, (err, ready) => {
      if (err) {
        post({ type: 'error', message: `mount events: ${errorMessage(err)}` });
        if (!stopping) timer = setTimeout(step, 1000);
        else finish();
        return;
      }
      if (ready && !stopping) {
        readAll();
        timer = setTimeout(step, EVENT_BATCH_MS);
      } else step();
    });
  };
  step();
  return {
    stop() {
      if (stopping) return;
      stopping = true;
      // Waiting on a timer: finish now. A poll out on the pool finishes when it is back (within a second).
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
        finish();
      }
    },
  };
}
