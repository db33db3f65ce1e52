/**
 * How often the watched table's size is read between samples (#32): a node whose pods come and go
 * must not pay a hundred wakeups a second, and a storm's mounts that live for milliseconds must
 * still be caught in the peak.
 */
import { PEAK_FAST_MS, PEAK_SLOW_MS, peakReadEvery } from '../../src/sources/mount-table/owner';

describe('peakReadEvery', () => {
  test('a namespace that did not change is not read between samples', () => {
    expect(peakReadEvery(false, 500, 500, 500)).toBe(0);
    // Whatever the last readings saw: no change since, no readings.
    expect(peakReadEvery(false, 500, 900, 1200)).toBe(0);
  });

  test('pods coming and going (one mount replaced, a few added or removed) read slowly', () => {
    expect(peakReadEvery(true, 20_000, 20_000, 20_001)).toBe(PEAK_SLOW_MS);
    expect(peakReadEvery(true, 20_000, 20_003, 20_004)).toBe(PEAK_SLOW_MS);
    expect(peakReadEvery(true, 20_000, 19_994, 20_000)).toBe(PEAK_SLOW_MS);
  });

  test('a size that moved by 8 or more since the last reading reads fast, either way', () => {
    expect(peakReadEvery(true, 100, 108, 108)).toBe(PEAK_FAST_MS);
    expect(peakReadEvery(true, 100, 92, 100)).toBe(PEAK_FAST_MS);
    expect(peakReadEvery(true, 100, 107, 107)).toBe(PEAK_SLOW_MS);
  });

  test('mounts that came and went between readings (a peak 8 above both ends) read fast', () => {
    // A container's per-layer mounts, made and gone within the interval: the size is back where it was.
    expect(peakReadEvery(true, 100, 100, 150)).toBe(PEAK_FAST_MS);
    expect(peakReadEvery(true, 100, 104, 111)).toBe(PEAK_SLOW_MS);
    expect(peakReadEvery(true, 100, 104, 112)).toBe(PEAK_FAST_MS);
  });

  test('fast is ten times the slow rate', () => {
    expect(PEAK_SLOW_MS / PEAK_FAST_MS).toBe(10);
  });
});
