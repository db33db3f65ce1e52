/**
 * Pure parser for what a fanotify group with FAN_REPORT_MNT hands read(2): a run of events, each
 *   struct fanotify_event_metadata { u32 event_len; u8 vers; u8 reserved; u16 metadata_len;
 *                                    u64 mask; s32 fd (FAN_NOFD); s32 pid; }
 * followed by info records { u8 info_type; u8 pad; u16 len; … }, for mount events one of type
 * FAN_EVENT_INFO_TYPE_MNT carrying the u64 mount id. A move reports attach and detach in one event.
 */
import { FAN_EVENT_INFO_TYPE_MNT, FAN_MNT_ATTACH, FAN_MNT_DETACH, FAN_Q_OVERFLOW } from '../../kernel/fanotify';

const METADATA_LEN = 24;

export interface MountEventCounts {
  attach: number;
  detach: number;
  /** The queue overflowed: events after the last one read were dropped. */
  overflows: number;
  /** Events without the documented shape (the rest of that read is skipped). */
  malformed: number;
}

/** Adds the events in buf[0, n) to `into`; `each` (optional) sees every mount event's mask, pid and mount id. */
export function countMountEvents(
  buf: Buffer,
  n: number,
  into: MountEventCounts,
  each?: (mask: number, pid: number, mountId: bigint | undefined) => void,
): void {
  let off = 0;
  while (off < n) {
    if (n - off < METADATA_LEN) {
      into.malformed++;
      return;
    }
    const len = buf.readUInt32LE(off);
    const metaLen = buf.readUInt16LE(off + 6);
    if (len < METADATA_LEN || metaLen < METADATA_LEN || metaLen > len || off + len > n) {
      into.malformed++;
      return;
    }
    // The mask's high word holds no flag we read: the low word is enough.
    const mask = buf.readUInt32LE(off + 8);
    if (mask & FAN_Q_OVERFLOW) into.overflows++;
    if (mask & FAN_MNT_ATTACH) into.attach++;
    if (mask & FAN_MNT_DETACH) into.detach++;
    if (each && mask & (FAN_MNT_ATTACH | FAN_MNT_DETACH)) {
      let id: bigint | undefined;
      for (let i = off + metaLen; i + 4 <= off + len;) {
        const type = buf[i] as number;
        const infoLen = buf.readUInt16LE(i + 2);
        if (infoLen < 4 || i + infoLen > off + len) break;
        if (type === FAN_EVENT_INFO_TYPE_MNT && infoLen >= 16) id = buf.readBigUInt64LE(i + 8);
        i += infoLen;
      }
      each(mask, buf.readInt32LE(off + 20), id);
    }
    off += len;
  }
}
