/**
 * One reading of the watched mount table, reduced to what the mounts collector exports, and the two
 * ways of taking it: the mountinfo text (every kernel) and listmount(2)/statmount(2) (Linux 6.8+).
 * Each keeps the previous reading itself and reports churn against it.
 */

export type TableMethod = 'listmount' | 'mountinfo';

export interface TableSample {
  method: TableMethod;
  /** Entries by filesystem type as mountinfo writes it (`fuse.sshfs`: type.subtype). */
  byType: Map<string, number>;
  overlays: number;
  layers: number;
  layersMax: number;
  idmapped: number;
  /** The mount ids of the idmapped mounts (few: a runtime's temporary ones live for milliseconds), for their ages. */
  idmappedIds: number[];
  /** The mount ids of a container runtime's temporary mounts, by mount point (runtime-temp.ts), for their ages. */
  tempIds: number[];
  /** Mounts not in the previous reading, and mounts of it that are gone (0 on the first). */
  added: number;
  removed: number;
  /** Lower layers of each overlay that appeared since the previous reading. */
  newOverlayDepths: number[];
  /** Seconds to take the reading, lock wait included. */
  readSeconds: number;
  /** Size of the mountinfo text (mountinfo method only). */
  bytes?: number;
  parseErrors: number;
  firstParseError?: string;
  /** Why the preferred method was not used, when it was not (said once per worker). */
  fallback?: string;
}

export interface MountTable {
  readonly method: TableMethod;
  /** Reads the table synchronously: call it off the event loop (src/sources/mount-table/owner.ts, on the mount-locks thread). */
  sample(): TableSample;
}

/** Running totals over one reading; `add` one mount at a time. */
export class TableTally {
  readonly byType = new Map<string, number>();
  overlays = 0;
  layers = 0;
  layersMax = 0;
  idmapped = 0;
  readonly newOverlayDepths: number[] = [];

  /** `n` mounts of one type other than overlay, `idmapped` of them idmapped (no per-mount detail needed). */
  addMany(fsType: string, n: number, idmapped: number): void {
    if (n > 0) this.byType.set(fsType, (this.byType.get(fsType) ?? 0) + n);
    this.idmapped += idmapped;
  }

  add(fsType: string, overlayLayers: number, idmapped: boolean, isNew: boolean): void {
    this.byType.set(fsType, (this.byType.get(fsType) ?? 0) + 1);
    if (idmapped) this.idmapped++;
    if (fsType !== 'overlay') return;
    this.overlays++;
    this.layers += overlayLayers;
    if (overlayLayers > this.layersMax) this.layersMax = overlayLayers;
    if (isNew) this.newOverlayDepths.push(overlayLayers);
  }
}
