/**
 * Mount namespaces, and the mounts attached to and detached from them. Where the kernel has the
 * nsfs walk (Linux 6.12+) and fanotify mount events (6.15+), the mount-namespaces watcher
 * (src/sources/mount-namespaces/, on the kernel-events thread) counts every namespace with its
 * mounts and every attach and detach, exactly and without touching a mount table; otherwise the
 * /proc/*\/ns/mnt links are scanned (processes may exit mid-scan) and churn is left to the mounts
 * collector's table diff.
 */
import { promises as fs } from 'node:fs';
import { errnoCode } from '../errors';
import { oneOf, positive } from '../flags';
import { MountNamespacesSource, type EventCounts } from '../sources/mount-namespaces/source';
import type { EventScope } from '../sources/mount-namespaces/watcher';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { NAMESPACES_METRICS } from '../metric-names';

const M = NAMESPACES_METRICS;

/** How often the walk also looks for namespaces no process holds, by default: leaks grow over hours, the /proc scan costs. */
const LEAK_SCAN_MS = 30_000;
const GONE = new Set(['ENOENT', 'ESRCH', 'EACCES', 'EPERM', 'ENOTDIR']);
const BATCH = 64;

export interface NamespacesOptions {
  events: EventScope;
  stormRate: number;
  leakScanMs?: number;
}

export interface NamespacesSnapshot {
  /** nsfs: the walk; procfs: the /proc scan. */
  method: 'nsfs' | 'procfs';
  namespaces: number;
  /** Mounts in all namespaces together, and in the largest (nsfs only). */
  mounts?: number;
  largest?: number;
  /** Processes whose link could not be read (the /proc scan, or the walk's leak scan; without CAP_SYS_PTRACE a lower bound). */
  unreadable?: number;
  /** Namespaces no process is in, and their mounts (nsfs only, from the latest leak scan). */
  unheld?: number;
  unheldMounts?: number;
  /**
   * Mount namespaces made since the last sample that lived until a walk (nsfs only): each container
   * start makes one (its OCI runtime unshares), and copies the whole table doing so.
   */
  created?: number;
  /** Mounts attached and detached since the last sample (fanotify only), and how many namespaces are watched. */
  events?: EventCounts & { scope: EventScope; namespaces: number };
}

/** A metric made the first time it is asked for (so it is not exposed, as 0, where it has no source). */
function lazily<T>(make: () => T): () => T {
  let m: T | undefined;
  return () => (m ??= make());
}

export class NamespacesCollector implements Collector<NamespacesSnapshot> {
  readonly name = 'namespaces';
  private readonly namespaces;
  private readonly unreadable;
  private readonly totalMounts;
  private readonly largest;
  private readonly created;
  private readonly method;
  private readonly events;
  private readonly overflows;
  private readonly watchedNamespaces;
  private readonly unheld;
  private readonly unheldMounts;
  private readonly source: MountNamespacesSource;
  private said = false;
  private scope: EventScope = 'off';
  private overflowed = 0;

  constructor(
    private readonly ctx: CollectorContext,
    options: NamespacesOptions,
  ) {
    const e = ctx.exposition;
    this.namespaces = e.gauge(
      M.mountNamespaces,
      'Mount namespaces: all of them (NS_MNT_GET_NEXT walk), else the distinct ones among the processes visible in procfs.',
    );
    this.unreadable = e.gauge(
      M.mountNamespaceUnreadableProcesses,
      'Processes whose ns/mnt link could not be read in the last scan (the /proc scan, or with the walk its leak scan; without CAP_SYS_PTRACE the count is a lower bound). Their namespaces count as unheld.',
    );
    // These two only have values with the walk: exposed (as label-less gauges are) from its first one.
    this.totalMounts = lazily(() =>
      e.gauge(M.mountNamespacesMounts, 'Mounts in all mount namespaces together (NS_MNT_GET_NEXT walk, Linux 6.12+).'),
    );
    this.created = lazily(() =>
      e.counter(
        M.mountNamespacesCreated,
        'Mount namespaces made that lived until a walk (NS_MNT_GET_NEXT, every sample interval; ids are never reused) or, below Linux 6.12, until a /proc/*/ns/mnt scan that could read every process: each container start makes one, copying the whole table under namespace_sem. The start signal where no runtime directory is watched.',
      ),
    );
    this.largest = lazily(() =>
      e.gauge(M.mountNamespaceMountsMax, 'Mounts in the largest mount namespace (NS_MNT_GET_NEXT walk, Linux 6.12+).'),
    );
    this.method = e.gauge(
      M.mountNamespacesMethod,
      'How mount namespaces are counted: nsfs (the NS_MNT_GET_NEXT walk, every namespace) or procfs (the /proc/*/ns/mnt links); 1 for the method in use.',
      ['method'],
    );
    this.events = lazily(() =>
      e.counter(
        M.mountEvents,
        'Mounts attached to or detached from the watched mount namespaces, from fanotify mount events (Linux 6.15+): exact, mounts that lived for milliseconds included.',
        ['event'],
      ),
    );
    this.overflows = lazily(() =>
      e.counter(
        M.mountEventOverflows,
        'Times the fanotify event queue overflowed: mount events were dropped, so mount_events_total is a lower bound for that interval.',
      ),
    );
    this.unheld = lazily(() =>
      e.gauge(
        M.unheldNamespaces,
        `Mount namespaces no process is in (the walk against every /proc/*/ns/mnt, every --collector.namespaces.leak-scan-interval): held only by a bind mount of their nsfs file or an open descriptor. Leaked ones keep their mounts, and the mount locks' work, forever.`,
      ),
    );
    this.unheldMounts = lazily(() =>
      e.gauge(M.unheldNamespaceMounts, 'Mounts in the mount namespaces no process is in.'),
    );
    this.watchedNamespaces = lazily(() =>
      e.gauge(
        M.mountEventsNamespaces,
        'Mount namespaces whose mount events are counted (every one with --collector.namespaces.events=node).',
      ),
    );
    this.source = new MountNamespacesSource(
      {
        watchedNs: ctx.paths.proc(ctx.mountPid, 'ns/mnt'),
        fallbackNs: ctx.paths.proc('thread-self', 'ns/mnt'),
        procfs: ctx.paths.procfs,
        leakScanMs: options.leakScanMs ?? LEAK_SCAN_MS,
        scope: options.events,
        walkIntervalMs: ctx.sampleIntervalMs,
        hotPerSecond: options.stormRate,
      },
      ctx.threads.kernelEvents,
    );
    this.source.errors((message) =>
      ctx.log.failure('namespaces:thread', 'warn', 'mount namespaces watcher', { err: message }),
    );
  }

  /** Told as soon as mount events come faster than --collector.namespaces.storm-rate. */
  onStorm(listener: (attachesPerSecond: number) => void): void {
    this.source.hot(listener);
  }

  private async say(): Promise<void> {
    if (this.said) return;
    this.said = true;
    const r = await this.source.ready;
    const log = this.ctx.log;
    if (r.walk.ok) log.info('namespaces: counting every mount namespace with NS_MNT_GET_NEXT');
    else log.info('namespaces: scanning /proc/*/ns/mnt', { reason: r.walk.reason });
    if (r.events.ok) {
      this.scope = r.events.scope;
      log.info('namespaces: counting mount events with fanotify', { scope: r.events.scope });
    } else
      log.info("namespaces: no mount events; churn comes from the mounts collector's table readings only", {
        reason: r.events.reason,
      });
  }

  async collect(): Promise<NamespacesSnapshot> {
    await this.say();
    const r = await this.source.read();
    const events = r.events && { ...r.events, scope: this.scope, namespaces: r.walk?.marked ?? 1 };
    if (r.walk)
      return {
        method: 'nsfs',
        namespaces: r.walk.namespaces,
        mounts: r.walk.mounts,
        largest: r.walk.largest,
        unheld: r.walk.unheld,
        unheldMounts: r.walk.unheldMounts,
        unreadable: r.walk.unreadable,
        created: r.created,
        events,
      };
    return { method: 'procfs', ...(await this.scan()), events };
  }

  /** The namespaces the last /proc scan saw, where it saw every process's. */
  private scanned: Set<string> | undefined;

  /**
   * Every process's mount namespace, from /proc/<pid>/ns/mnt. New ones since the last scan are counted
   * as created only where both scans could read every process's link (root, or CAP_SYS_PTRACE):
   * a scan that cannot see every namespace cannot tell a new one.
   */
  private async scan(): Promise<{ namespaces: number; unreadable: number; created?: number }> {
    const pids = (await fs.readdir(this.ctx.paths.procfs)).filter((n) => /^\d+$/.test(n));
    const seen = new Set<string>();
    let unreadable = 0;
    for (let i = 0; i < pids.length; i += BATCH) {
      const links = await Promise.all(
        pids.slice(i, i + BATCH).map((pid) =>
          fs.readlink(this.ctx.paths.proc(pid, 'ns/mnt')).catch((err: unknown) => {
            if (!GONE.has(errnoCode(err) ?? '')) throw err;
            // Exited since readdir (ENOENT/ESRCH) is not unreadable; a permission error is.
            if (errnoCode(err) === 'EACCES' || errnoCode(err) === 'EPERM') unreadable++;
            return undefined;
          }),
        ),
      );
      for (const l of links) if (l !== undefined) seen.add(l);
    }
    const before = this.scanned;
    this.scanned = unreadable === 0 ? seen : undefined;
    if (unreadable > 0) return { namespaces: seen.size, unreadable };
    let created = 0;
    if (before) for (const id of seen) if (!before.has(id)) created++;
    return { namespaces: seen.size, unreadable, created };
  }

  apply(s: NamespacesSnapshot): void {
    this.method.reset();
    this.method.set({ method: s.method }, 1);
    this.namespaces.set(s.namespaces);
    this.unreadable.set(s.unreadable ?? 0);
    if (s.mounts !== undefined) this.totalMounts().set(s.mounts);
    if (s.largest !== undefined) this.largest().set(s.largest);
    if (s.created !== undefined) this.created().inc(s.created);
    if (s.unheld !== undefined) this.unheld().set(s.unheld);
    if (s.unheldMounts !== undefined) this.unheldMounts().set(s.unheldMounts);
    if (!s.events) return;
    this.events().inc({ event: 'attach' }, s.events.attach);
    this.events().inc({ event: 'detach' }, s.events.detach);
    this.overflows().inc(s.events.overflows);
    this.watchedNamespaces().set(s.events.namespaces);
    if (s.events.overflows > 0) {
      this.overflowed += s.events.overflows;
      this.ctx.log.warn(
        'namespaces: the mount event queue overflowed; mount_events_total is a lower bound for this interval',
        { overflows: this.overflowed },
      );
    }
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

export const namespacesCollector = defineCollector({
  name: 'namespaces',
  defaultEnabled: true,
  help: 'mount namespaces (NS_MNT_GET_NEXT walk, else /proc/*/ns/mnt) and the mounts attached to and detached from them (fanotify mount events).',
  flags: [
    {
      name: 'events',
      kind: 'string',
      default: 'node',
      help: "Whose mount events are counted (fanotify, Linux 6.15+): node (every mount namespace the walk finds: the mount locks are global, so a storm in any namespace is the node's), watched (the namespace of --mount.pid only), or off.",
      check: oneOf(['node', 'watched', 'off']),
    },
    {
      name: 'storm-rate',
      kind: 'int',
      default: 500,
      help: 'Mount events per second (over 100 ms) taken as a storm starting: told at once, so that on-demand tracing arms within a sample.',
      check: positive,
    },
    {
      name: 'leak-scan-interval',
      kind: 'duration',
      default: 30_000,
      help: 'How often the walk also looks for mount namespaces no process is in (a scan of /proc/*/ns/mnt): mountstorm_mount_namespaces_unheld.',
      check: (v) => ((v as number) >= 1000 ? undefined : 'must be at least 1s'),
    },
  ],
  options: (value) => ({
    events: value('events') as EventScope,
    stormRate: value('storm-rate') as number,
    leakScanMs: value('leak-scan-interval') as number,
  }),
  create: (ctx, o) => new NamespacesCollector(ctx, o),
});
