/**
 * containerd's task directory (`<state>/io.containerd.runtime.v2.task`), watched for each task
 * bundle to appear: `<namespace>/<id>`, a container's start. Node's own fs.watch (inotify): one
 * watch on the directory, one on each runtime namespace in it; each namespace is listed once its
 * watch is in place, so a namespace made together with its first bundle (Docker's first container
 * makes `moby` and its bundle at once) loses none. Nothing inside a bundle is watched.
 *
 * An event is looked at when the event loop gets to it, which on a loaded node can be after the
 * bundle has gone again (seen on Linux 6.1 under a masked-paths storm: 50 of 709 one-second
 * containers gone before chokidar, which stats each entry before telling it, looked). Such a bundle
 * is still a start: inotify told its name. Each bundle has one event for its making and one for its
 * removal (containerd renames it to `.<id>` first; dot names are no tasks), so a name whose event
 * finds nothing, and that was never seen, is a start told once; the other event of its pair is
 * expected and passed over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDir } from '../../fs/is-dir';

/** Runtime namespaces watched at most (a node has a handful: k8s.io, moby, default). */
const MAX_NAMESPACES = 256;
/** Names whose other event is still to come, remembered at most (the oldest forgotten first). */
const MAX_SETTLED = 4096;

export interface TaskWatchListener {
  /** A task bundle appeared (not one there when the watch began); `gone` when it had gone again before it was looked at. */
  task(namespace: string, id: string, gone: boolean): void;
  /** A task bundle that appeared is gone. */
  gone(namespace: string, id: string): void;
  error(err: unknown): void;
}

interface Namespace {
  watcher: fs.FSWatcher;
  /** Bundles there, as last looked. */
  known: Set<string>;
  /** Bundles told and gone whose other event may still come (insertion order: oldest first). */
  settled: Set<string>;
}

export class TaskDirWatch {
  private readonly top: fs.FSWatcher;
  private readonly namespaces = new Map<string, Namespace>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly listener: TaskWatchListener,
  ) {
    this.top = fs.watch(dir, { persistent: false }, (_event, name) => {
      if (name) this.namespace(String(name), false);
    });
    this.top.on('error', (err) => this.listener.error(err));
    // The namespaces there now, and their bundles: running already, no start.
    for (const ns of fs.readdirSync(dir)) this.namespace(ns, true);
  }

  close(): Promise<void> {
    this.closed = true;
    this.top.close();
    for (const ns of [...this.namespaces.keys()]) this.drop(ns);
    return Promise.resolve();
  }

  /** A namespace directory appeared, or went: watched, then listed (its bundles starts unless `initial`). */
  private namespace(ns: string, initial: boolean): void {
    if (this.closed || ns.startsWith('.')) return;
    const p = path.join(this.dir, ns);
    if (!isDir(p)) {
      this.drop(ns);
      return;
    }
    if (this.namespaces.has(ns) || this.namespaces.size >= MAX_NAMESPACES) return;
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(p, { persistent: false }, (_event, name) => {
        if (name) this.entry(ns, state, String(name));
      });
    } catch {
      return; // gone already: the directory's own watch tells
    }
    const state: Namespace = { watcher, known: new Set(), settled: new Set() };
    watcher.on('error', () => this.drop(ns));
    this.namespaces.set(ns, state);
    let ids: string[] = [];
    try {
      ids = fs.readdirSync(p);
    } catch {
      // gone again: nothing in it started
    }
    for (const id of ids) if (!id.startsWith('.') && !state.known.has(id)) this.appeared(ns, state, id, initial);
  }

  private appeared(ns: string, state: Namespace, id: string, initial: boolean): void {
    state.known.add(id);
    state.settled.delete(id);
    if (!initial) this.listener.task(ns, id, false);
  }

  /** An event on a bundle's name: made (there now), removed (known, gone), or both before this look. */
  private entry(ns: string, state: Namespace, id: string): void {
    if (this.closed || id.startsWith('.')) return;
    const there = fs.existsSync(path.join(this.dir, ns, id));
    // The namespace directory itself removed (inotify names the watched directory): its watch is
    // done; the task directory's own watch sees it made again.
    if (id === ns && !there && !state.known.has(id)) {
      if (this.namespaces.get(ns) === state) this.drop(ns);
      return;
    }
    if (there) {
      if (!state.known.has(id)) this.appeared(ns, state, id, false);
      return;
    }
    if (state.known.delete(id)) {
      // Its removal; or its making, told late after the listing saw it: then its removal is to come.
      this.settle(state, id);
      this.listener.gone(ns, id);
      return;
    }
    // The other event of a pair told already.
    if (state.settled.delete(id)) return;
    // Made and removed before this look: a start all the same; its removal's event is to come.
    this.settle(state, id);
    this.listener.task(ns, id, true);
  }

  private settle(state: Namespace, id: string): void {
    state.settled.add(id);
    if (state.settled.size > MAX_SETTLED) state.settled.delete(state.settled.values().next().value as string);
  }

  private drop(ns: string): void {
    const state = this.namespaces.get(ns);
    if (!state) return;
    this.namespaces.delete(ns);
    state.watcher.close();
  }
}
