/**
 * Change-driven reads of the watched mount table. The kernel raises POLLPRI|POLLERR on an open
 * /proc/PID/mountinfo once after any change to that namespace since the descriptor last polled
 * (mounts_poll compares the namespace's event counter with the one the descriptor saw). So once per
 * sample the table's owner asks poll(2) with a zero timeout — a few microseconds, no lock —
 * and reads the whole table (which takes namespace_sem, the lock we measure) only when it changed,
 * and at least every `maxAgeMs` as a safety net. A quiet host then costs almost nothing. Where poll
 * cannot work (a fixture tree, not procfs) every sample reads.
 *
 * A storm changes the namespace tens of thousands of times a second; asking once per sample costs
 * one syscall however fast it changes (a thread blocked in poll() would wake, and spin, for each).
 */
import * as fs from 'node:fs';
import { errorMessage } from '../../errors';
import { isProcfs } from '../../kernel/magic';
import { POLLERR, POLLPRI, pollNow } from '../../kernel/poll';

export class ChangeWatch {
  private fd: number | undefined;
  private readAt = 0;
  private changedSinceRead = true;
  /** Why change-driven reads are off (every sample reads), or undefined while they work. */
  broken: string | undefined;

  constructor(
    readonly file: string,
    private readonly maxAgeMs = 60_000,
  ) {
    try {
      if (!isProcfs(file)) {
        this.broken = `${file} is not on procfs`;
        return;
      }
      // Opened before the first read: every change from here on raises POLLPRI on it.
      this.fd = fs.openSync(file, 'r');
    } catch (err) {
      this.broken = `cannot open ${file} for poll(2): ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  /** Whether change events drive the reads (false: every sample reads). */
  get active(): boolean {
    return this.fd !== undefined;
  }

  /**
   * Asks the kernel, without waiting, whether the namespace changed since the last call: true once
   * per burst of changes. Counted in mountstorm_mount_table_change_events_total.
   */
  poll(): boolean {
    if (this.fd === undefined) return false;
    let revents: number;
    try {
      revents = pollNow(this.fd, POLLPRI);
    } catch (err) {
      this.broken = `${errorMessage(err)} on ${this.file}`;
      this.close();
      return false;
    }
    const changed = (revents & (POLLPRI | POLLERR)) !== 0;
    if (changed) this.changedSinceRead = true;
    return changed;
  }

  /** True when the table must be read: changed since the last read, too old, or no watch. */
  due(now = Date.now()): boolean {
    return this.fd === undefined || this.changedSinceRead || now - this.readAt >= this.maxAgeMs;
  }

  /** Call after a successful reading: a change during it raised POLLPRI for the next poll(). */
  reading(now = Date.now()): void {
    this.changedSinceRead = false;
    this.readAt = now;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
