/**
 * Container starts: every new `<namespace>/<container>` directory in a runtime task directory
 * (containerd: /run/containerd/io.containerd.runtime.v2.task) is a container's bundle appearing.
 * chokidar watches them (inotify underneath); a directory that does not exist is "no data" and is
 * picked up on a later sample once the runtime creates it.
 */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import { defineCollector, type Collector, type CollectorContext } from './collector';

/** The metrics this file owns, by what they measure: alerts and dashboards name them through this. */
export const CONTAINERS_METRICS = {
  containerStarts: 'mountstorm_container_starts_total',
  containerTaskDirsWatched: 'mountstorm_container_task_dirs_watched',
} as const;
const M = CONTAINERS_METRICS;

const DEFAULT_TASK_DIR = '/run/containerd/io.containerd.runtime.v2.task';

export interface ContainersSnapshot {
  /** Bundles that appeared since the last sample. */
  starts: number;
  /** Task directories that exist and are watched. */
  watched: number;
}

export class ContainersCollector implements Collector<ContainersSnapshot> {
  readonly name = 'containers';
  private readonly starts;
  private readonly watched;
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly dirs: string[];
  private seen = 0;

  constructor(
    private readonly ctx: CollectorContext,
    taskDirs: readonly string[],
  ) {
    this.starts = ctx.exposition.counter(M.containerStarts, "New container bundles seen in the runtime's task directories.");
    this.watched = ctx.exposition.gauge(M.containerTaskDirsWatched, 'Runtime task directories that exist and are being watched.');
    this.dirs = taskDirs.map((d) => ctx.paths.root(d));
  }

  private async exists(dir: string): Promise<boolean> {
    try {
      return (await fs.stat(dir)).isDirectory();
    } catch {
      return false;
    }
  }

  private startWatching(dir: string): Promise<void> {
    const w = watch(dir, { ignoreInitial: true, depth: 1, persistent: false, followSymlinks: false });
    w.on('addDir', (p: string) => {
      // depth 1 = <namespace>, depth 2 = <namespace>/<container>: only the latter is a start.
      const rel = path.relative(dir, p);
      if (rel.split(path.sep).length === 2) this.seen++;
    });
    w.on('error', (err) => this.ctx.log.failure(`watch:${dir}`, 'warn', 'container task directory watch failed', { dir, err: String(err) }));
    this.watchers.set(dir, w);
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }

  async collect(): Promise<ContainersSnapshot> {
    for (const dir of this.dirs) {
      const present = await this.exists(dir);
      const w = this.watchers.get(dir);
      if (present && !w) {
        await this.startWatching(dir);
        this.ctx.log.info('watching container task directory', { dir });
      } else if (!present && w) {
        this.watchers.delete(dir);
        await w.close();
      }
    }
    const starts = this.seen;
    this.seen = 0;
    return { starts, watched: this.watchers.size };
  }

  apply(s: ContainersSnapshot): void {
    this.starts.inc(s.starts);
    this.watched.set(s.watched);
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
    this.watchers.clear();
  }
}

export const containersCollector = defineCollector({
  name: 'containers',
  defaultEnabled: true,
  help: "container starts seen in the runtime's task directories.",
  flags: [{ name: 'task-dir', kind: 'list', default: [DEFAULT_TASK_DIR], help: 'Runtime task directory (under path.rootfs) whose <namespace>/<container> entries are container starts; repeatable.' }],
  options: (value) => ({ taskDirs: value('task-dir') as string[] }),
  create: (ctx, o) => new ContainersCollector(ctx, o.taskDirs),
});
