/**
 * The watched mount table: entries by fstype, churn by diffing consecutive samples by identity,
 * overlay layer depth, idmapped mounts, and the kernel's fs.mount-max ceiling.
 */
import { promises as fs } from 'node:fs';
import { LATENCY_BUCKETS } from '../exposition';
import { errnoCode } from '../errors';
import { isIdmapped, overlayLowerLayers, parseMountinfo } from '../procfs/mountinfo';
import { MountinfoWatch } from '../watch/mountinfo';
import type { Collector, CollectorContext } from './collector';

export const LAYER_BUCKETS = [1, 2, 5, 10, 20, 30, 50, 75, 100, 128, 250, 500];

/**
 * Reads a whole pseudo-file; /proc sizes are 0, so read until EOF. seq_file hands out about a page
 * per read(), so the reads go straight into one growing buffer (doubling): a 50k-mount table is ~940
 * reads and a handful of copies, not a fresh allocation per read.
 */
export async function readProcFile(file: string): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(256 * 1024);
    let total = 0;
    for (;;) {
      if (buf.length - total < 64 * 1024) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, total);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return buf.subarray(0, total);
  } finally {
    await fh.close();
  }
}

export class MountsCollector implements Collector {
  readonly name = 'mounts';
  private readonly mounts;
  private readonly added;
  private readonly removed;
  private readonly overlayMounts;
  private readonly overlayLayers;
  private readonly overlayLayersMax;
  private readonly newOverlayLayers;
  private readonly idmapped;
  private readonly mountMax;
  private readonly readDuration;
  private readonly tableBytes;
  private readonly parseErrors;
  private previous: Set<string> | undefined;
  private readonly changes;
  private readonly reads;
  private readonly watch: MountinfoWatch;

  constructor(private readonly ctx: CollectorContext) {
    const e = ctx.exposition;
    this.mounts = e.gauge('mountstorm_mounts', 'Entries in the watched mount table, by filesystem type.', ['fstype']);
    this.added = e.counter('mountstorm_mounts_added_total', 'Mounts seen that were not in the previous sample (a lower bound: churn within one sample interval is missed).');
    this.removed = e.counter('mountstorm_mounts_removed_total', 'Mounts of the previous sample that are gone (a lower bound: churn within one sample interval is missed).');
    this.overlayMounts = e.gauge('mountstorm_overlay_mounts', 'Overlay filesystems in the watched mount table.');
    this.overlayLayers = e.gauge('mountstorm_overlay_lower_layers', 'Lower layers summed over all overlay mounts.');
    this.overlayLayersMax = e.gauge('mountstorm_overlay_lower_layers_max', 'Lower layers of the deepest overlay mount.');
    this.newOverlayLayers = e.histogram('mountstorm_overlay_new_mount_lower_layers', 'Lower layers per overlay mount that appeared since the previous sample.', LAYER_BUCKETS);
    this.idmapped = e.gauge('mountstorm_idmapped_mounts', 'Mounts whose options contain idmapped.');
    this.mountMax = e.gauge('mountstorm_mount_max', 'The kernel limit on mounts per namespace (fs.mount-max); beyond it mount fails with ENOSPC.');
    this.readDuration = e.histogram('mountstorm_mountinfo_read_duration_seconds', 'Time to read the whole watched mountinfo once (grows with table size and lock wait).', LATENCY_BUCKETS);
    this.tableBytes = e.gauge('mountstorm_mountinfo_bytes', 'Size of the watched mountinfo text in bytes.');
    this.parseErrors = e.counter('mountstorm_mountinfo_parse_errors_total', 'mountinfo lines that did not parse and were skipped.');
    this.changes = e.counter('mountstorm_mount_table_change_events_total', 'Wake-ups of poll(2) on the watched mountinfo: the namespace changed (bursts coalesce into one).');
    this.reads = e.counter('mountstorm_mountinfo_reads_total', 'Whole reads of the watched mountinfo: after a change (poll), at least once a minute, or every sample where poll is unavailable.');
    this.watch = new MountinfoWatch(ctx.mountinfoPath);
  }

  async close(): Promise<void> {
    await this.watch.close();
  }

  async update(): Promise<void> {
    this.changes.inc(this.watch.takeEvents());
    // Reading the table takes namespace_sem: only when it changed (or the safety interval ran out).
    if (this.previous && !this.watch.due()) {
      const mountMax = await this.readMountMax();
      if (mountMax !== undefined) this.mountMax.set(mountMax);
      return;
    }
    this.watch.reading();
    const start = process.hrtime.bigint();
    const buf = await readProcFile(this.ctx.mountinfoPath);
    const readSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const { mounts, errors } = parseMountinfo(buf.toString('utf8'), this.ctx.mountinfoPath);
    const mountMax = await this.readMountMax();

    const byType = new Map<string, number>();
    const current = new Set<string>();
    let overlays = 0;
    let layers = 0;
    let layersMax = 0;
    let idmapped = 0;
    const newOverlayDepths: number[] = [];
    for (const m of mounts) {
      byType.set(m.fsType, (byType.get(m.fsType) ?? 0) + 1);
      current.add(m.identity);
      if (isIdmapped(m)) idmapped++;
      if (m.fsType === 'overlay') {
        const n = overlayLowerLayers(m.superOptions).length;
        overlays++;
        layers += n;
        if (n > layersMax) layersMax = n;
        if (this.previous && !this.previous.has(m.identity)) newOverlayDepths.push(n);
      }
    }
    let added = 0;
    let removed = 0;
    if (this.previous) {
      for (const id of current) if (!this.previous.has(id)) added++;
      removed = this.previous.size - (current.size - added);
    }

    // Apply: one synchronous block.
    this.reads.inc();
    this.readDuration.observe(readSeconds);
    this.tableBytes.set(buf.length);
    this.mounts.reset();
    for (const [t, n] of byType) this.mounts.set({ fstype: t }, n);
    this.added.inc(added);
    this.removed.inc(removed);
    this.overlayMounts.set(overlays);
    this.overlayLayers.set(layers);
    this.overlayLayersMax.set(layersMax);
    for (const d of newOverlayDepths) this.newOverlayLayers.observe(d);
    this.idmapped.set(idmapped);
    if (mountMax !== undefined) this.mountMax.set(mountMax);
    if (errors.length > 0) {
      this.parseErrors.inc(errors.length);
      this.ctx.log.failure('mountinfo-parse', 'warn', 'skipped malformed mountinfo lines', { count: errors.length, first: errors[0]?.message });
    } else {
      this.ctx.log.recovered('mountinfo-parse', 'mountinfo parses cleanly again');
    }
    this.previous = current;
  }

  private async readMountMax(): Promise<number | undefined> {
    try {
      const v = (await fs.readFile(this.ctx.paths.proc('sys/fs/mount-max'), 'utf8')).trim();
      return /^\d+$/.test(v) ? Number(v) : undefined;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }
}
