/**
 * A containers/storage `<driver>-containers` directory (CRI-O, Podman), watched for each container's
 * spec to appear: `<id>/userdata/config.json`, the start. Node's own fs.watch (inotify): one watch
 * on the directory, and one on each container not started yet (on `<id>`, then on its `userdata`)
 * until its spec appears. Only a change to the entry that moves a container on is looked at, and
 * only that entry: nothing is listed again. (chokidar lists a directory again and lstats every
 * entry in it on each change, and podman writes a dozen files into userdata per start: 11.5 ms of
 * the exporter's CPU per start, 2.1 ms with this watch: BENCHMARKS.md.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDir } from '../../fs/is-dir';

/** Containers waiting for their spec, watched at most (each an inotify watch; a node runs far fewer). */
const MAX_PENDING = 4096;

export interface StoreWatchListener {
  /** A container's spec appeared (not one that was there when the watch began). */
  spec(id: string): void;
  /** A container's directory is gone. */
  gone(id: string): void;
  error(err: unknown): void;
}

export class StoreWatch {
  private readonly top: fs.FSWatcher;
  /** Containers not started yet: the watch on where their spec will come. */
  private readonly pending = new Map<string, { watcher: fs.FSWatcher; at: string }>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly listener: StoreWatchListener,
  ) {
    this.top = fs.watch(dir, { persistent: false }, (_event, name) => {
      if (name) this.entry(String(name));
    });
    this.top.on('error', (err) => this.listener.error(err));
    // The containers there now: those started already are no start; the others are waited for.
    for (const id of fs.readdirSync(dir)) this.look(id, true);
  }

  /** Containers waiting for their spec now. */
  get waiting(): number {
    return this.pending.size;
  }

  close(): Promise<void> {
    this.closed = true;
    this.top.close();
    for (const id of [...this.pending.keys()]) this.unwatch(id);
    return Promise.resolve();
  }

  private entry(id: string): void {
    if (this.closed || id.startsWith('.')) return;
    if (fs.existsSync(path.join(this.dir, id))) {
      this.look(id, false);
      return;
    }
    this.unwatch(id);
    this.listener.gone(id);
  }

  /**
   * Where a container stands: its spec there (a start, unless it was there when the watch began),
   * or a watch placed where the spec will come; and once placed, looked at again for what appeared
   * in between.
   */
  private look(id: string, initial: boolean): void {
    if (this.closed || id.startsWith('.')) return;
    const base = path.join(this.dir, id);
    const userdata = path.join(base, 'userdata');
    if (fs.existsSync(path.join(userdata, 'config.json'))) {
      this.unwatch(id);
      if (!initial) this.listener.spec(id);
      return;
    }
    const at = isDir(userdata) ? userdata : isDir(base) ? base : undefined;
    if (at === undefined) {
      this.unwatch(id);
      return;
    }
    if (this.pending.get(id)?.at === at) return;
    this.unwatch(id);
    if (this.pending.size >= MAX_PENDING) return;
    let watcher: fs.FSWatcher;
    try {
      // Only the entry that moves it on is looked at: `userdata` in <id>, the spec in userdata (the
      // store writes a dozen other files there, and its run root never holds the spec).
      const next = at === userdata ? 'config.json' : 'userdata';
      watcher = fs.watch(at, { persistent: false }, (_event, name) => {
        if (name === null || String(name) === next) this.look(id, false);
      });
    } catch {
      return; // gone already: the directory's own watch tells
    }
    watcher.on('error', () => this.unwatch(id));
    this.pending.set(id, { watcher, at });
    this.look(id, initial);
  }

  private unwatch(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.watcher.close();
  }
}
