/**
 * The watched mount table: entries by fstype, churn between readings, overlay layer depth,
 * idmapped mounts, and the kernel's fs.mount-max ceiling. The table's owner
 * (src/sources/mount-table/), on the mount-locks thread, takes the readings, only after a change
 * poll(2) reported or once a minute; between readings the last one stands.
 */
import { LATENCY_BUCKETS } from '../exposition';
import { oneOf } from '../flags';
import { MountTableSource } from '../sources/mount-table/source';
import type { TableMethod } from '../sources/mount-table/reading';
import type { TableMethodSetting, TableReading } from '../sources/mount-table/owner';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { MOUNTS_METRICS } from '../metric-names';

const M = MOUNTS_METRICS;

/** The ages idmapped and runtime temporary mounts are counted past (…_older_than). */
const AGES: ReadonlyArray<[string, number]> = [
  ['1m', 60_000],
  ['10m', 600_000],
  ['1h', 3_600_000],
  ['1d', 86_400_000],
];

export const LAYER_BUCKETS = [1, 2, 5, 10, 20, 30, 50, 75, 100, 128, 250, 500];

/** The table as of this sample, and what changed since the last one. */
export interface MountsSnapshot {
  method: TableMethod;
  /** Entries in the table as of the last reading (the sum of byType). */
  mounts: number;
  /** Entries now: NS_MNT_GET_INFO every sample where the kernel has it, else the last reading's. */
  entries: number;
  /** The most entries at any 10 ms reading since the last sample (NS_MNT_GET_INFO only). */
  entriesPeak?: number;
  byType: ReadonlyMap<string, number>;
  overlays: number;
  layers: number;
  layersMax: number;
  idmapped: number;
  /** Idmapped mounts present longer than --collector.mounts.idmap-linger, and longer than each of AGES. */
  idmappedLingering: number;
  idmappedOlderThan: ReadonlyArray<[string, number]>;
  /** A container runtime's temporary mounts (by mount point) present longer than the linger time, and longer than each of AGES. */
  tempLingering: number;
  tempOlderThan: ReadonlyArray<[string, number]>;
  mountMax?: number;
  /** Mounts that appeared and went between the last two readings (0 where no reading was due). */
  added: number;
  removed: number;
  /** Lower layers of each overlay that appeared. */
  newOverlayDepths: readonly number[];
  /** poll(2) saw a change since the last sample. */
  changed: boolean;
  /** This sample's reading, where one was due. */
  read?: { seconds: number; bytes?: number; parseErrors: number; firstParseError?: string; fallback?: string };
}

/** Ages by mount id: one still there keeps its first sighting, a new one starts now. */
function aged(ids: readonly number[], before: ReadonlyMap<number, number>, now: number): Map<number, number> {
  const since = new Map<number, number>();
  for (const id of ids) since.set(id, before.get(id) ?? now);
  return since;
}

export class MountsCollector implements Collector<MountsSnapshot> {
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
  private readonly changes;
  private readonly reads;
  private readonly method;
  private readonly entries;
  private readonly entriesPeak;
  private readonly lingering;
  private readonly olderThan;
  private readonly tempLingering;
  private readonly tempOlderThan;
  /** When each idmapped mount, and each runtime temporary mount (by id), was first seen in a reading. */
  private idmappedSince = new Map<number, number>();
  private tempSince = new Map<number, number>();
  private readonly source: MountTableSource;
  private last: TableReading | undefined;
  private reportedBroken: string | undefined;
  private saidSize = false;

  constructor(
    private readonly ctx: CollectorContext,
    method: TableMethodSetting,
    private readonly lingerMs = 60_000,
  ) {
    const e = ctx.exposition;
    this.mounts = e.gauge(M.mounts, 'Entries in the watched mount table, by filesystem type.', ['fstype']);
    this.added = e.counter(
      M.mountsAdded,
      'Mounts seen that were not in the previous sample (a lower bound: churn within one sample interval is missed).',
    );
    this.removed = e.counter(
      M.mountsRemoved,
      'Mounts of the previous sample that are gone (a lower bound: churn within one sample interval is missed).',
    );
    this.overlayMounts = e.gauge(M.overlayMounts, 'Overlay filesystems in the watched mount table.');
    this.overlayLayers = e.gauge(M.overlayLowerLayers, 'Lower layers summed over all overlay mounts.');
    this.overlayLayersMax = e.gauge(M.overlayLowerLayersMax, 'Lower layers of the deepest overlay mount.');
    this.newOverlayLayers = e.histogram(
      M.overlayNewMountLowerLayers,
      'Lower layers per overlay mount that appeared since the previous sample.',
      LAYER_BUCKETS,
    );
    this.idmapped = e.gauge(M.idmappedMounts, 'Mounts whose options contain idmapped.');
    this.mountMax = e.gauge(
      M.mountMax,
      'The kernel limit on mounts per namespace (fs.mount-max); beyond it mount fails with ENOSPC.',
    );
    this.readDuration = e.histogram(
      M.mountTableReadDurationSeconds,
      'Time to read the whole watched mount table once (grows with table size and lock wait).',
      LATENCY_BUCKETS,
    );
    this.tableBytes = e.gauge(
      M.mountinfoBytes,
      'Size of the watched mountinfo text in bytes (0 with the listmount method, which reads no text).',
    );
    this.parseErrors = e.counter(M.mountinfoParseErrors, 'mountinfo lines that did not parse and were skipped.');
    this.changes = e.counter(
      M.mountTableChangeEvents,
      'Samples in which poll(2) on the watched mountinfo reported a change to the namespace (all changes between two samples count once).',
    );
    this.reads = e.counter(
      M.mountTableReads,
      'Whole readings of the watched mount table: after a change (poll), at least once a minute, or every sample where poll is unavailable.',
    );
    this.method = e.gauge(
      M.mountTableMethod,
      'How the mount table is read: listmount (listmount(2) and statmount(2), Linux 6.8+, exact churn) or mountinfo (text); 1 for the method in use.',
      ['method'],
    );
    this.entries = e.gauge(
      M.mountTableEntries,
      'Entries in the watched mount table now: NS_MNT_GET_INFO every sample (Linux 6.12+, without reading the table), else the last reading.',
    );
    this.entriesPeak = e.gauge(
      M.mountTableEntriesPeak,
      'The most entries the watched table had at any 10 ms reading since the previous sample (NS_MNT_GET_INFO while the table changes; the entries otherwise).',
    );
    this.lingering = e.gauge(
      M.idmappedMountsLingering,
      "Idmapped mounts in the watched table for longer than --collector.mounts.idmap-linger (1m): a runtime's temporary idmapped mounts live for milliseconds while it starts a container, so these outlived the start that made them (leaked).",
    );
    this.olderThan = e.gauge(
      M.idmappedMountsOlderThan,
      'Idmapped mounts in the watched table older than `age` (1m, 10m, 1h, 1d), aged by mount id from the first reading that showed them: how long leaked ones have been there.',
      ['age'],
    );
    this.tempLingering = e.gauge(
      M.runtimeTempMountsLingering,
      "A container runtime's temporary mounts (containerd's tmpmounts/containerd-mount*, ovl-idmapped*; by mount point) in the watched table for longer than --collector.mounts.idmap-linger (1m): they live for the moment of a container start, so these outlived it (leaked).",
    );
    this.tempOlderThan = e.gauge(
      M.runtimeTempMountsOlderThan,
      "A container runtime's temporary mounts in the watched table older than `age` (1m, 10m, 1h, 1d), aged by mount id from the first reading that showed them.",
      ['age'],
    );
    this.source = new MountTableSource(
      {
        mountinfoPath: ctx.mountinfoPath,
        method,
        mountMaxPath: ctx.paths.proc('sys/fs/mount-max'),
      },
      ctx.threads.mountLocks,
    );
  }

  /** Of mounts first seen at `since`'s times: how many are past the linger time, and past each of AGES. */
  private ages(since: ReadonlyMap<number, number>, now: number): { lingering: number; older: Array<[string, number]> } {
    let lingering = 0;
    const older = AGES.map(([age]) => [age, 0] as [string, number]);
    for (const at of since.values()) {
      if (now - at > this.lingerMs) lingering++;
      AGES.forEach(([, ms], i) => now - at > ms && (older[i] as [string, number])[1]++);
    }
    return { lingering, older };
  }

  async collect(): Promise<MountsSnapshot> {
    const answer = await this.source.read();
    if (answer.watchBroken !== this.reportedBroken) {
      this.reportedBroken = answer.watchBroken;
      if (answer.watchBroken) this.ctx.log.info(`mounts: every sample reads the table: ${answer.watchBroken}`);
    }
    if (!this.saidSize) {
      this.saidSize = true;
      if (answer.sizeUnavailable)
        this.ctx.log.info('mounts: the table size comes from its readings only', { reason: answer.sizeUnavailable });
    }
    const r = answer.reading;
    const now = Date.now();
    if (r) {
      this.last = r;
      this.idmappedSince = aged(r.idmappedIds, this.idmappedSince, now);
      this.tempSince = aged(r.tempIds, this.tempSince, now);
    }
    const t = this.last as TableReading; // the first answer always carries a reading
    const idmappedAges = this.ages(this.idmappedSince, now);
    const tempAges = this.ages(this.tempSince, now);
    let mounts = 0;
    for (const n of t.byType.values()) mounts += n;
    return {
      method: t.method,
      mounts,
      entries: answer.size?.entries ?? mounts,
      entriesPeak: answer.size?.peak,
      byType: t.byType,
      overlays: t.overlays,
      layers: t.layers,
      layersMax: t.layersMax,
      idmapped: t.idmapped,
      idmappedLingering: idmappedAges.lingering,
      idmappedOlderThan: idmappedAges.older,
      tempLingering: tempAges.lingering,
      tempOlderThan: tempAges.older,
      mountMax: t.mountMax,
      added: r?.added ?? 0,
      removed: r?.removed ?? 0,
      newOverlayDepths: r?.newOverlayDepths ?? [],
      changed: answer.changed,
      read: r && {
        seconds: r.readSeconds,
        bytes: r.bytes,
        parseErrors: r.parseErrors,
        firstParseError: r.firstParseError,
        fallback: r.fallback,
      },
    };
  }

  apply(s: MountsSnapshot): void {
    if (s.changed) this.changes.inc();
    this.method.reset();
    this.method.set({ method: s.method }, 1);
    this.mounts.reset();
    for (const [type, n] of s.byType) this.mounts.set({ fstype: type }, n);
    this.added.inc(s.added);
    this.removed.inc(s.removed);
    this.overlayMounts.set(s.overlays);
    this.overlayLayers.set(s.layers);
    this.overlayLayersMax.set(s.layersMax);
    for (const d of s.newOverlayDepths) this.newOverlayLayers.observe(d);
    this.idmapped.set(s.idmapped);
    this.lingering.set(s.idmappedLingering);
    for (const [age, n] of s.idmappedOlderThan) this.olderThan.set({ age }, n);
    this.tempLingering.set(s.tempLingering);
    for (const [age, n] of s.tempOlderThan) this.tempOlderThan.set({ age }, n);
    if (s.mountMax !== undefined) this.mountMax.set(s.mountMax);
    this.entries.set(s.entries);
    this.entriesPeak.set(s.entriesPeak ?? s.entries);
    const read = s.read;
    if (!read) return;
    this.reads.inc();
    this.readDuration.observe(read.seconds);
    if (read.bytes !== undefined) this.tableBytes.set(read.bytes);
    if (read.fallback) this.ctx.log.info(`mounts: reading mountinfo text; ${read.fallback}`);
    if (read.parseErrors > 0) {
      this.parseErrors.inc(read.parseErrors);
      this.ctx.log.failure('mountinfo-parse', 'warn', 'skipped malformed mountinfo lines', {
        count: read.parseErrors,
        first: read.firstParseError,
      });
    } else {
      this.ctx.log.recovered('mountinfo-parse', 'mountinfo parses cleanly again');
    }
  }
}

export const mountsCollector = defineCollector({
  name: 'mounts',
  defaultEnabled: true,
  help: 'mount table size by fstype, churn, overlay layers, idmapped mounts, fs.mount-max.',
  flags: [
    {
      name: 'method',
      kind: 'string',
      default: 'auto',
      help: "How to read the mount table: listmount (listmount(2) and statmount(2), Linux 6.8+, and 6.11+ for a namespace other than the exporter's; exact churn, a fraction of the cost), mountinfo (the text, every kernel), or auto (listmount where it works, else mountinfo).",
      check: oneOf(['auto', 'listmount', 'mountinfo']),
    },
    {
      name: 'idmap-linger',
      kind: 'duration',
      default: 60_000,
      help: "An idmapped mount, or one at a runtime's temporary mount point, in the watched table longer than this counts as lingering (mountstorm_idmapped_mounts_lingering, mountstorm_runtime_temp_mounts_lingering): a runtime's temporary ones live for milliseconds.",
      check: (v) => ((v as number) >= 1000 ? undefined : 'must be at least 1s'),
    },
  ],
  options: (value) => ({
    method: value('method') as TableMethodSetting,
    idmapLingerMs: value('idmap-linger') as number,
  }),
  create: (ctx, o) => new MountsCollector(ctx, o.method, o.idmapLingerMs),
});
