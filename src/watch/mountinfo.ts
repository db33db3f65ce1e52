/**
 * Change-driven reads of the watched mount table. poll(2) on /proc/PID/mountinfo wakes on any change
 * to that namespace (POLLPRI|POLLERR, coalesced, no count), so the mounts collector reads the whole
 * table — which takes namespace_sem, the lock we measure — only after a change, and at least every
 * `maxAgeMs` as a safety net. A quiet host then costs almost nothing. Where poll cannot work (a
 * fixture tree, not procfs) every sample reads, as before.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

const PROC_SUPER_MAGIC = 0x9fa0;

export class MountinfoWatch {
  private readonly state = new Int32Array(new SharedArrayBuffer(16));
  private worker: Worker | undefined;
  private seen = -1;
  private readAt = 0;
  /** The last read happened after the poll descriptor was open: no change since it can go unseen. */
  private lastReadArmed = false;
  private reported = 0;

  constructor(
    readonly file: string,
    private readonly maxAgeMs = 60_000,
  ) {
    let onProc = false;
    try {
      onProc = fs.statfsSync(file).type === PROC_SUPER_MAGIC;
    } catch {
      onProc = false;
    }
    if (!onProc) return;
    this.worker = new Worker(path.join(__dirname, 'poll-worker.js'), { workerData: { path: file, shared: this.state.buffer } });
    this.worker.unref();
    this.worker.on('error', () => (this.worker = undefined));
    this.worker.on('exit', () => (this.worker = undefined));
  }

  /** Whether change events drive the reads (false: every sample reads). */
  get active(): boolean {
    return this.worker !== undefined && Atomics.load(this.state, 2) === 0;
  }

  /** Change events since the last call (for mountstorm_mount_table_change_events_total). */
  takeEvents(): number {
    const now = Atomics.load(this.state, 0);
    const d = now - this.reported;
    this.reported = now;
    return d;
  }

  /** True when the table must be read: changed since the last read, too old, no watch, or the last read predates the watch. */
  due(now = Date.now()): boolean {
    if (!this.active || !this.lastReadArmed) return true;
    return Atomics.load(this.state, 0) !== this.seen || now - this.readAt >= this.maxAgeMs;
  }

  /** Call just before reading: a change during the read then makes the next sample read again. */
  reading(now = Date.now()): void {
    this.lastReadArmed = Atomics.load(this.state, 3) === 1;
    this.seen = Atomics.load(this.state, 0);
    this.readAt = now;
  }

  async close(): Promise<void> {
    Atomics.store(this.state, 1, 1);
    Atomics.notify(this.state, 1);
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
