/**
 * The mount-locks thread: the exporter's work that waits on the kernel's global mount locks, in one
 * worker thread. Each worker is a V8 isolate of its own (about 8 MiB of RSS, #32), so the sources
 * whose calls block on the same locks share one: the watched table's readings (namespace_sem for
 * reading) and the lock-wait probes (namespace_sem, mount_lock). While one of them waits on a lock,
 * the others would wait on the same lock anyway; none of this may ever run on the event loop.
 *
 * The thread answers one request at a time, `{ id, ... }` (worker-call.ts), probes before readings.
 * A table request carries its settings, so a thread started again after a crash picks the table up
 * (with a first reading, as at start).
 */
import { parentPort } from 'node:worker_threads';
import { errnoCode, errorMessage } from '../../errors';
import { TableOwner, type TableAnswer, type TableSettings } from '../mount-table/owner';
import type { ProbeRequest, ProbeResponse } from '../probes/protocol';
import { timeProbe } from '../probes/timing';
import type { WorkerAnswer } from '../worker-call';

export type MountLocksRequest =
  { id: number; to: 'table'; settings: TableSettings } | { id: number; to: 'probe'; probe: ProbeRequest };
export type MountLocksAnswer = TableAnswer | ProbeResponse;

/** One owner per watched table (there is one; keyed all the same, so settings can never mix). */
const tables = new Map<string, TableOwner>();

function handle(req: MountLocksRequest): MountLocksAnswer {
  switch (req.to) {
    case 'table': {
      const key = JSON.stringify(req.settings);
      let owner = tables.get(key);
      if (!owner) tables.set(key, (owner = new TableOwner(req.settings)));
      return owner.answer();
    }
    case 'probe':
      return { seconds: timeProbe(req.probe) };
  }
}

function answer(req: MountLocksRequest): WorkerAnswer<MountLocksAnswer> {
  try {
    return { ...handle(req), id: req.id };
  } catch (err) {
    return { id: req.id, error: errorMessage(err), code: errnoCode(err) };
  }
}

/**
 * Requests wait for the end of the batch that brought them, then run probes first: a sample asks
 * for the table and the namespace_sem probe together, and a probe that ran after a reading would
 * always time the lock just after that reading had waited for it (measured: the storm's share of
 * slow probes fell from 36–47 % to 9–22 %), where its own thread timed it at the sample's tick.
 */
const queue: MountLocksRequest[] = [];
let draining = false;

function drain(): void {
  draining = false;
  const batch = queue.splice(0);
  batch.sort((a, b) => (a.to === b.to ? 0 : a.to === 'probe' ? -1 : 1));
  for (const req of batch) parentPort?.postMessage(answer(req));
}

parentPort?.on('message', (req: MountLocksRequest) => {
  queue.push(req);
  if (!draining) {
    draining = true;
    setImmediate(drain);
  }
});
