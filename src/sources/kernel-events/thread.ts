/**
 * The kernel-events thread: the exporter's work that reads what the kernel reports as it happens,
 * in one worker thread. Each worker is a V8 isolate of its own (about 8 MiB of RSS, #32), so the two
 * sources that never wait on the mount locks share one: the trace owner (src/sources/tracefs/owner.ts:
 * the instance, drained every few milliseconds while armed) and the mount-namespaces watcher
 * (src/sources/mount-namespaces/watcher.ts: the walk, and fanotify mount events awaited on libuv's
 * pool). Neither may share a thread with work that waits on the mount locks (mount-locks/): a storm
 * holds them, and these two are how the exporter sees that storm.
 *
 * Trace requests are calls, `{ id, to: 'trace', owner, req }`, answered `{ id, ... }` (worker-call.ts);
 * each source's owner has its own number, so an instance opened again after a failure starts clean.
 * The watcher is started and stopped by messages without an id, and posts what it learns as
 * `{ to: 'namespaces', message }`.
 */
import { parentPort } from 'node:worker_threads';
import { errnoCode, errorMessage } from '../../errors';
import { watchNamespaces, type NamespacesMessage, type NamespacesSettings } from '../mount-namespaces/watcher';
import { TraceOwner, type TraceAnswer, type TraceRequest } from '../tracefs/owner';
import type { WorkerAnswer } from '../worker-call';

export type KernelEventsCall = { id: number; to: 'trace'; owner: number; req: TraceRequest };
export type KernelEventsControl =
  { to: 'namespaces'; op: 'start'; settings: NamespacesSettings } | { to: 'namespaces'; op: 'stop' };
export type KernelEventsPush = { to: 'namespaces'; message: NamespacesMessage };

const owners = new Map<number, TraceOwner>();
let watcher: { stop(): void } | undefined;

function trace(call: KernelEventsCall): TraceAnswer {
  const { owner: n, req } = call;
  if (req.op === 'open') {
    owners.get(n)?.close();
    const owner = new TraceOwner(req.settings);
    owners.set(n, owner);
    try {
      return { opened: owner.open() };
    } catch (err) {
      owners.delete(n);
      throw err;
    }
  }
  const owner = owners.get(n);
  if (!owner) throw new Error('the trace instance is not open');
  if (req.op === 'close') owners.delete(n);
  return owner.handle(req);
}

function post(message: NamespacesMessage): void {
  parentPort?.postMessage({ to: 'namespaces', message } satisfies KernelEventsPush);
}

parentPort?.on('message', (m: KernelEventsCall | KernelEventsControl) => {
  if (m.to === 'namespaces') {
    if (m.op === 'start') {
      watcher?.stop();
      try {
        watcher = watchNamespaces(m.settings, post);
      } catch (err) {
        post({ type: 'error', message: errorMessage(err) });
        post({ type: 'stopped' });
      }
    } else {
      watcher?.stop();
      watcher = undefined;
    }
    return;
  }
  let res: WorkerAnswer<TraceAnswer>;
  try {
    res = { ...trace(m), id: m.id };
  } catch (err) {
    res = { id: m.id, error: errorMessage(err), code: errnoCode(err) };
  }
  parentPort?.postMessage(res);
});
