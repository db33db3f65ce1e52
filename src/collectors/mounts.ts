/**
 * The watched mount table: entries by fstype, churn by diffing consecutive readings, overlay layer
 * depth, idmapped mounts, and the kernel's fs.mount-max ceiling. A worker thread takes the readings
 * (src/mounttable/worker.ts: listmount(2) where it works, mountinfo text otherwise), only after a
 * change that poll(2) reported (src/watch/mountinfo.ts) or once a minute.
 */
import * as path from 'node:path';
import { LATENCY_BUCKETS } from '../exposition';
import type { TableReading, TableWorkerData } from '../mounttable/worker';
import { MountinfoWatch } from '../watch/mountinfo';
import { WorkerCall } from '../worker/call';
import type { Collector, CollectorContext } from './collector';

export const LAYER_BUCKETS = [1, 2, 5, 10, 20, 30, 50, 75, 100, 128, 250, 500];

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
  private sampled = false;
  private reportedBroken: string | undefined;
  private readonly changes;
  private readonly reads;
  private readonly method;
  private readonly watch: MountinfoWatch;
  private readonly table: WorkerCall<object, TableReading>;

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
    this.readDuration = e.histogram('mountstorm_mount_table_read_duration_seconds', 'Time to read the whole watched mount table once (grows with table size and lock wait).', LATENCY_BUCKETS);
    this.tableBytes = e.gauge('mountstorm_mountinfo_bytes', 'Size of the watched mountinfo text in bytes (0 with the listmount method, which reads no text).');
    this.parseErrors = e.counter('mountstorm_mountinfo_parse_errors_total', 'mountinfo lines that did not parse and were skipped.');
    this.changes = e.counter('mountstorm_mount_table_change_events_total', 'Samples in which poll(2) on the watched mountinfo reported a change to the namespace (all changes between two samples count once).');
    this.reads = e.counter('mountstorm_mount_table_reads_total', 'Whole readings of the watched mount table: after a change (poll), at least once a minute, or every sample where poll is unavailable.');
    this.method = e.gauge('mountstorm_mount_table_method', 'How the mount table is read: listmount (listmount(2) and statmount(2), Linux 6.8+, exact churn) or mountinfo (text); 1 for the method in use.', ['method']);
    this.watch = new MountinfoWatch(ctx.mountinfoPath);
    const workerData: TableWorkerData = { mountinfoPath: ctx.mountinfoPath, method: ctx.config.mounts.method, mountMaxPath: ctx.paths.proc('sys/fs/mount-max') };
    this.table = new WorkerCall(path.join(__dirname, '../mounttable/worker.js'), { workerData });
  }

  async close(): Promise<void> {
    this.watch.close();
    await this.table.close();
  }

  async update(): Promise<void> {
    if (this.watch.poll()) this.changes.inc();
    if (this.watch.broken !== this.reportedBroken) {
      this.reportedBroken = this.watch.broken;
      if (this.watch.broken) this.ctx.log.info(`mounts: every sample reads the table: ${this.watch.broken}`);
    }
    // Every reading of the table takes namespace_sem: only when it changed (or the safety interval
    // ran out). fs.mount-max comes with each reading, so it is at most a minute old.
    if (this.sampled && !this.watch.due()) return;
    const t = await this.table.call({});
    // After success only: a failed reading is retried next sample. A change during the reading
    // raised POLLPRI for the next poll(), so it is not lost.
    this.watch.reading();

    // Apply: one synchronous block.
    this.reads.inc();
    this.readDuration.observe(t.readSeconds);
    if (t.bytes !== undefined) this.tableBytes.set(t.bytes);
    this.method.reset();
    this.method.set({ method: t.method }, 1);
    this.mounts.reset();
    for (const [type, n] of t.byType) this.mounts.set({ fstype: type }, n);
    this.added.inc(t.added);
    this.removed.inc(t.removed);
    this.overlayMounts.set(t.overlays);
    this.overlayLayers.set(t.layers);
    this.overlayLayersMax.set(t.layersMax);
    for (const d of t.newOverlayDepths) this.newOverlayLayers.observe(d);
    this.idmapped.set(t.idmapped);
    if (t.mountMax !== undefined) this.mountMax.set(t.mountMax);
    if (t.fallback) this.ctx.log.info(`mounts: reading mountinfo text; ${t.fallback}`);
    if (t.parseErrors > 0) {
      this.parseErrors.inc(t.parseErrors);
      this.ctx.log.failure('mountinfo-parse', 'warn', 'skipped malformed mountinfo lines', { count: t.parseErrors, first: t.firstParseError });
    } else {
      this.ctx.log.recovered('mountinfo-parse', 'mountinfo parses cleanly again');
    }
    this.sampled = true;
  }
}
