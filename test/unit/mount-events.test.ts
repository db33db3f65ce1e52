/** The fanotify mount-event records parser, and the ring buffer's auto size: pure. */
import { FAN_EVENT_INFO_TYPE_MNT, FAN_MNT_ATTACH, FAN_MNT_DETACH, FAN_Q_OVERFLOW } from '../../src/kernel/fanotify';
import { countMountEvents, type MountEventCounts } from '../../src/sources/mount-namespaces/records';
import { bufferSizeFor } from '../../src/sources/tracefs/owner';

/** One event as the kernel writes it: metadata (24 bytes), then a mount info record (16) unless `noInfo`. */
function event(mask: number, pid: number, mountId: bigint, noInfo = false): Buffer {
  const b = Buffer.alloc(noInfo ? 24 : 40);
  b.writeUInt32LE(b.length, 0);
  b[4] = 3; // FANOTIFY_METADATA_VERSION
  b.writeUInt16LE(24, 6);
  b.writeBigUInt64LE(BigInt(mask), 8);
  b.writeInt32LE(-1, 16); // FAN_NOFD
  b.writeInt32LE(pid, 20);
  if (!noInfo) {
    b[24] = FAN_EVENT_INFO_TYPE_MNT;
    b.writeUInt16LE(16, 26);
    b.writeBigUInt64LE(mountId, 32);
  }
  return b;
}

const fresh = (): MountEventCounts => ({ attach: 0, detach: 0, overflows: 0, malformed: 0 });

test('attaches, detaches, a move (both), an overflow: counted, each with its pid and mount id', () => {
  const buf = Buffer.concat([
    event(FAN_MNT_ATTACH, 10, 2n ** 40n),
    event(FAN_MNT_DETACH, 11, 7n),
    event(FAN_MNT_ATTACH | FAN_MNT_DETACH, 12, 8n),
    event(FAN_Q_OVERFLOW, -1, 0n, true),
  ]);
  const c = fresh();
  const seen: Array<[number, number, bigint | undefined]> = [];
  countMountEvents(buf, buf.length, c, (mask, pid, id) => seen.push([mask, pid, id]));
  expect(c).toEqual({ attach: 2, detach: 2, overflows: 1, malformed: 0 });
  expect(seen).toEqual([
    [FAN_MNT_ATTACH, 10, 2n ** 40n],
    [FAN_MNT_DETACH, 11, 7n],
    [FAN_MNT_ATTACH | FAN_MNT_DETACH, 12, 8n],
  ]);
});

test.each([
  ['cut inside the second event', (b: Buffer) => b.subarray(0, 50), 1],
  ['an event_len past the read', (b: Buffer) => (b.writeUInt32LE(400, 40), b), 1],
  ['an event_len below the metadata', (b: Buffer) => (b.writeUInt32LE(8, 40), b), 1],
  ['a metadata_len past the event', (b: Buffer) => (b.writeUInt16LE(64, 46), b), 1],
])('%s: what came before is counted, the rest of the read skipped', (_name, damage, attachBefore) => {
  const buf = damage(Buffer.concat([event(FAN_MNT_ATTACH, 1, 1n), event(FAN_MNT_ATTACH, 2, 2n)]));
  const c = fresh();
  countMountEvents(buf, buf.length, c);
  expect(c.attach).toBe(attachBefore);
  expect(c.malformed).toBe(1);
});

test('an info record with a bad length does not stop the count', () => {
  const e = event(FAN_MNT_DETACH, 3, 9n);
  e.writeUInt16LE(2, 26);
  const c = fresh();
  const ids: Array<bigint | undefined> = [];
  countMountEvents(e, e.length, c, (_m, _p, id) => ids.push(id));
  expect(c).toEqual({ attach: 0, detach: 1, overflows: 0, malformed: 0 });
  expect(ids).toEqual([undefined]);
});

test('the auto ring buffer: 32 MiB in all, 512 KiB to 8 MiB per CPU', () => {
  expect(bufferSizeFor(1)).toBe(8192);
  expect(bufferSizeFor(2)).toBe(8192);
  expect(bufferSizeFor(16)).toBe(2048);
  expect(bufferSizeFor(64)).toBe(512);
  expect(bufferSizeFor(512)).toBe(512);
});
