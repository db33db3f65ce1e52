/**
 * The mount table from listmount(2) and statmount(2) (Linux 6.8+), called through koffi. Mount ids
 * there are 64-bit and never reused, so churn between readings is exact. Only mounts that are new
 * since the previous reading are looked up with statmount; the rest of a reading is one listmount
 * call per 32k ids and a merge of two sorted id lists. Both calls take namespace_sem for reading,
 * as a mountinfo read does, but for a fraction of the time.
 */
import {
  MountApi,
  STATMOUNT_FS_TYPE,
  STATMOUNT_MNT_BASIC,
  STATMOUNT_MNT_OPTS,
  STATMOUNT_MNT_POINT,
} from '../../kernel/mount-api';
import { MOUNT_ATTR_IDMAP } from '../../kernel/mount';

import { TableTally, type MountTable, type TableSample } from './reading';
import { isRuntimeTempMountPoint } from './runtime-temp';
import { overlayLowerLayerCount } from '../../procfs/mountinfo/overlay';

/** Per-mount facts kept between readings, in arrays parallel to the sorted id list (the first `count` entries). */
interface Known {
  count: number;
  ids: Float64Array;
  type: Uint16Array;
  layers: Uint16Array;
  idmapped: Uint8Array;
  /** A container runtime's temporary mount, by its mount point (runtime-temp.ts). */
  temp: Uint8Array;
}

export class ListmountTable implements MountTable {
  readonly method = 'listmount';
  private known: Known | undefined;
  /** The arrays of the reading before `known`, written over by the next one. */
  private spare: Known | undefined;
  private perType: Uint32Array = new Uint32Array(16);
  private idmappedPerType: Uint32Array = new Uint32Array(16);
  private readonly typeNames: string[] = [];
  private readonly typeIndex = new Map<string, number>();
  /** statmount calls made (for the exporter's own cost). */
  lookups = 0;

  constructor(private readonly api: MountApi) {}

  private typeId(name: string): number {
    let i = this.typeIndex.get(name);
    if (i === undefined) {
      i = this.typeNames.length;
      this.typeNames.push(name);
      this.typeIndex.set(name, i);
    }
    return i;
  }

  /** The arrays the next reading is written into: the previous reading's spare set, grown when too small. */
  private scratch(n: number): Known {
    const s = this.spare;
    if (s && s.ids.length >= n) return s;
    const size = Math.ceil(Math.max(n, 1024) * 1.25);
    return {
      count: 0,
      ids: new Float64Array(size),
      type: new Uint16Array(size),
      layers: new Uint16Array(size),
      idmapped: new Uint8Array(size),
      temp: new Uint8Array(size),
    };
  }

  sample(): TableSample {
    const start = process.hrtime.bigint();
    const ids = this.api.list();
    const prev = this.known;
    const next = this.scratch(ids.length);
    const tally = new TableTally();
    // Counted by type index: only overlays need a per-mount look (layers, and whether it is new).
    if (this.perType.length < this.typeNames.length + 1) this.perType = new Uint32Array(this.typeNames.length + 16);
    if (this.idmappedPerType.length < this.perType.length) this.idmappedPerType = new Uint32Array(this.perType.length);
    let perType: Uint32Array = this.perType.fill(0);
    let idmappedPerType: Uint32Array = this.idmappedPerType.fill(0);
    const overlay = this.typeId('overlay');
    const idmappedIds: number[] = [];
    const tempIds: number[] = [];
    let kept = 0;
    let added = 0;
    let removed = 0;
    let p = 0;
    const pn = prev?.count ?? 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      while (prev && p < pn && (prev.ids[p] as number) < id) {
        p++;
        removed++;
      }
      const isNew = !(prev && p < pn && prev.ids[p] === id);
      if (!isNew) {
        next.ids[kept] = id;
        next.type[kept] = prev.type[p] as number;
        next.layers[kept] = prev.layers[p] as number;
        next.idmapped[kept] = prev.idmapped[p] as number;
        next.temp[kept] = prev.temp[p] as number;
        p++;
      } else {
        // The mount point too, once per new mount: a runtime's temporary ones are told by where they are.
        const st = this.api.stat(id, STATMOUNT_MNT_BASIC | STATMOUNT_FS_TYPE | STATMOUNT_MNT_POINT);
        this.lookups++;
        if (!st) continue; // unmounted between listmount and statmount: not part of this reading
        const fsType = st.subtype ? `${st.fsType}.${st.subtype}` : st.fsType;
        let layers = 0;
        if (fsType === 'overlay') {
          const opts = this.api.stat(id, STATMOUNT_MNT_OPTS)?.opts ?? '';
          this.lookups++;
          layers = overlayLowerLayerCount(opts);
        }
        next.ids[kept] = id;
        next.type[kept] = this.typeId(fsType);
        next.layers[kept] = Math.min(layers, 0xffff);
        next.idmapped[kept] = st.mntAttr & MOUNT_ATTR_IDMAP ? 1 : 0;
        next.temp[kept] = st.mntPoint !== undefined && isRuntimeTempMountPoint(st.mntPoint) ? 1 : 0;
        if (prev) added++;
        if (this.typeNames.length > perType.length) {
          perType = this.grow(perType);
          idmappedPerType = this.grow(idmappedPerType);
        }
      }
      if (next.idmapped[kept] === 1) idmappedIds.push(id);
      if (next.temp[kept] === 1) tempIds.push(id);
      const type = next.type[kept] as number;
      if (type === overlay)
        tally.add('overlay', next.layers[kept] as number, next.idmapped[kept] === 1, prev !== undefined && isNew);
      else {
        perType[type] = (perType[type] as number) + 1;
        idmappedPerType[type] = (idmappedPerType[type] as number) + (next.idmapped[kept] as number);
      }
      kept++;
    }
    removed += pn - p;
    for (let t = 0; t < this.typeNames.length; t++)
      if (t !== overlay) tally.addMany(this.typeNames[t] as string, perType[t] as number, idmappedPerType[t] as number);
    next.count = kept;
    this.perType = perType;
    this.idmappedPerType = idmappedPerType;
    this.spare = prev;
    this.known = next;
    const readSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { method: this.method, ...tally, idmappedIds, tempIds, added, removed, readSeconds, parseErrors: 0 };
  }

  private grow(a: Uint32Array): Uint32Array {
    const b = new Uint32Array(this.typeNames.length + 16);
    b.set(a);
    return b;
  }
}
