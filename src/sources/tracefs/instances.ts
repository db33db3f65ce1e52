/**
 * The `instances/` directory of a tracefs mount, shared by every exporter on the host whatever
 * mount or PID namespace it runs in: taking turns on it, and removing the instances of exporters
 * that are gone.
 *
 * Liveness of an instance is read from the kernel, not from PIDs (which differ across PID
 * namespaces): an instance whose trace_pipe or a trace_pipe_raw is open cannot be removed (rmdir
 * gives EBUSY), so every other `mountstorm-*` instance that rmdir accepts belonged to an exporter
 * that is gone. Exporters starting together take turns (flock on `instances/`) from removing stale
 * instances to pinning their new one, so none takes another's instance, made but not yet pinned,
 * for a dead exporter's. Synchronous and may wait: called from the kernel-events thread only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode } from '../../errors';
import { tryLockExclusive } from '../../kernel/flock';

export const INSTANCE_NAME = /^mountstorm-\d+(?:-\d+)?$/;
/** How long a turn is waited for before going ahead without the lock. */
const LOCK_WAIT_MS = 5000;

export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // closed already
  }
}

/**
 * Runs `fn` holding an exclusive flock on `dir` (closing the descriptor releases it). Waits, in
 * 10 ms steps and never blocked in the kernel, up to LOCK_WAIT_MS for another holder; goes ahead
 * unlocked where locking fails or takes longer, since no holder takes seconds and instance
 * creation copes with a lost race anyway.
 */
export function withDirLock<T>(dir: string, fn: () => T): T {
  let fd: number;
  try {
    fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch {
    return fn();
  }
  try {
    const deadline = Date.now() + LOCK_WAIT_MS;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (tryLockExclusive(fd) === 'busy' && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
    return fn();
  } finally {
    closeQuietly(fd);
  }
}

/** Removes the `mountstorm-*` instances whose exporter is gone; returns their names. */
export function removeStaleInstances(tracefsDir: string, keep?: string): string[] {
  const dir = path.join(tracefsDir, 'instances');
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!INSTANCE_NAME.test(name) || name === keep) continue;
    try {
      fs.rmdirSync(path.join(dir, name));
      removed.push(name);
    } catch (err) {
      // EBUSY: in use, its exporter lives; ENOENT/ENODEV: removed, or being removed, by another.
      const code = errnoCode(err);
      if (code !== 'EBUSY' && code !== 'ENOENT' && code !== 'ENODEV') throw err;
    }
  }
  return removed;
}
