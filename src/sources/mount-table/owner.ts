/**
 * What owns the watched mount table: its change watch, its size, and its readings. Every way of
 * reading it takes namespace_sem, which a storm holds: a reading may block for seconds, so it never
 * runs on the event loop but on the mount-locks thread (src/sources/mount-locks/thread.ts). Asked
 * once per sample, the owner polls the namespace for a change (ChangeWatch) and reads the table only
 * after one, or once a minute; it picks its method once (listmount where the kernel and privileges
 * allow, mountinfo text otherwise) and keeps the previous reading for churn.
 *
 * The table's size comes every sample without reading it: NS_MNT_GET_INFO on the namespace's nsfs
 * file (Linux 6.12+, a fraction of a microsecond, no lock). While the namespace changes, the size
 * is also taken between samples, and its peak reported: a storm's per-layer mounts live for
 * milliseconds and are gone by the next sample. Every 100 ms while it merely changes (pods coming
 * and going), every 10 ms once mounts are seen to come and go between two readings, or the size to
 * move by SWING: each reading is a wakeup of the thread, and a node whose pods come and go does not
 * pay a hundred a second (#32).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoCode, errorMessage } from '../../errors';
import { isProcfs } from '../../kernel/magic';
import { mountNamespaceInfo, namespaceIdFor } from '../../kernel/nsfs';
import { MountApi } from '../../kernel/mount-api';
import { ChangeWatch } from './change-watch';
import { ListmountTable } from './listmount-reader';
import type { MountTable, TableSample } from './reading';
import { MountinfoTable } from './text-reader';

export type TableMethodSetting = 'auto' | 'listmount' | 'mountinfo';
export interface TableSettings {
  mountinfoPath: string;
  method: TableMethodSetting;
  /** <procfs>/sys/fs/mount-max, read with each reading (a tiny synchronous read). */
  mountMaxPath: string;
}

/** A reading, and fs.mount-max at the time (undefined where the kernel has no such sysctl). */
export type TableReading = TableSample & { mountMax?: number };

/** One sample's look at the table: whether it changed, its size, and a new reading where one was due. */
export interface TableAnswer {
  /** poll(2) reported a change since the last sample. */
  changed: boolean;
  reading?: TableReading;
  /** Why change-driven reads are off (every sample reads), while they are. */
  watchBroken?: string;
  /** Entries now, and the most at any reading since the last sample (NS_MNT_GET_INFO, every 10–100 ms while it changes); absent without it. */
  size?: { entries: number; peak: number };
  /** Why the size comes from the readings only, where NS_MNT_GET_INFO does not work. */
  sizeUnavailable?: string;
}

/** Readings of the size between samples while the namespace changes: slow, and fast once it storms. */
export const PEAK_SLOW_MS = 100;
export const PEAK_FAST_MS = 10;
/** A size that moves this much between readings, or a peak this far above both ends of a sample, reads fast. */
const SWING = 8;

function readMountMax(file: string): number | undefined {
  let v: string;
  try {
    v = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  return /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Opens the table and takes its first reading: listmount where it works (the reading proves it),
 * else mountinfo text, saying why in `fallback` when `auto` fell back.
 */
export function openTable(
  mountinfoPath: string,
  method: TableMethodSetting,
): { table: MountTable; first: TableSample } {
  if (method !== 'mountinfo') {
    try {
      if (!isProcfs(mountinfoPath)) throw new Error(`${mountinfoPath} is not on procfs`);
      const table = new ListmountTable(new MountApi(namespaceIdFor(mountinfoPath)));
      return { table, first: table.sample() };
    } catch (err) {
      if (method === 'listmount') throw err;
      const table = new MountinfoTable(mountinfoPath);
      return { table, first: { ...table.sample(), fallback: `listmount(2) not used: ${errorMessage(err)}` } };
    }
  }
  const table = new MountinfoTable(mountinfoPath);
  return { table, first: table.sample() };
}

/**
 * How often the size is read until the next sample: not at all while the namespace is still; every
 * PEAK_FAST_MS where, since the last reading, the size moved by SWING or more, or rose that far above
 * both ends and fell back (mounts that came and went: a storm); every PEAK_SLOW_MS otherwise.
 */
export function peakReadEvery(changing: boolean, before: number, entries: number, peak: number): number {
  if (!changing) return 0;
  const swung = Math.abs(entries - before) >= SWING || peak - Math.max(entries, before) >= SWING;
  return swung ? PEAK_FAST_MS : PEAK_SLOW_MS;
}

/** The namespace's size by NS_MNT_GET_INFO, and its peak between samples while it changes. */
class TableSize {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(16);
  private peak = 0;
  /** The size at the latest reading, between samples or at one. */
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private every = 0;
  readonly unavailable: string | undefined;

  constructor(mountinfoPath: string) {
    const ns = path.join(path.dirname(mountinfoPath), 'ns', 'mnt');
    try {
      this.fd = fs.openSync(ns, 'r');
      this.last = mountNamespaceInfo(this.fd, this.buf).mounts;
    } catch (err) {
      if (this.fd !== undefined) fs.closeSync(this.fd);
      this.fd = undefined;
      this.unavailable = `NS_MNT_GET_INFO on ${ns}: ${errorMessage(err)}`;
    }
  }

  private now(): number {
    return mountNamespaceInfo(this.fd as number, this.buf).mounts;
  }

  /** Readings every `ms` from now (none for 0); one that sees the size swing reads fast at once, and each take() decides again. */
  private readEvery(ms: number): void {
    if (ms === this.every) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.every = ms;
    if (ms === 0) return;
    this.timer = setInterval(() => {
      const n = this.now();
      if (peakReadEvery(true, this.last, n, n) === PEAK_FAST_MS) this.readEvery(PEAK_FAST_MS);
      this.last = n;
      this.peak = Math.max(this.peak, n);
    }, ms);
  }

  /** The size now and the peak since the last call; while `changing`, readings go on between calls. */
  take(changing: boolean): { entries: number; peak: number } | undefined {
    if (this.fd === undefined) return undefined;
    const before = this.last;
    const entries = this.now();
    const peak = Math.max(this.peak, entries);
    this.peak = entries;
    this.last = entries;
    this.readEvery(peakReadEvery(changing, before, entries, peak));
    return { entries, peak };
  }
}

/** The table, its change watch and its size, for one watched mountinfo. */
export class TableOwner {
  private table: MountTable | undefined;
  // Opened before the first reading: every change from then on raises POLLPRI on it.
  private readonly watch: ChangeWatch;
  private readonly size: TableSize;

  constructor(private readonly settings: TableSettings) {
    this.watch = new ChangeWatch(settings.mountinfoPath);
    this.size = new TableSize(settings.mountinfoPath);
  }

  /** This sample's look at the table (synchronous: it may wait on namespace_sem). */
  answer(): TableAnswer {
    const changed = this.watch.poll();
    let reading: TableReading | undefined;
    if (!this.table || this.watch.due()) {
      let s: TableSample;
      if (this.table) s = this.table.sample();
      else {
        const opened = openTable(this.settings.mountinfoPath, this.settings.method);
        this.table = opened.table;
        s = opened.first;
      }
      // After success only: a failed reading is retried next sample. A change during the reading
      // raised POLLPRI for the next poll(), so it is not lost.
      this.watch.reading();
      reading = { ...s, mountMax: readMountMax(this.settings.mountMaxPath) };
    }
    return {
      changed,
      reading,
      watchBroken: this.watch.broken,
      size: this.size.take(changed),
      sizeUnavailable: this.size.unavailable,
    };
  }
}
