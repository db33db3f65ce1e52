/** The sampler: parts applied in one step and handed to listeners, late parts kept, its own health metrics. */
import type { Collector } from '../../src/collectors/collector';
import { Exposition } from '../../src/exposition';
import { Logger } from '../../src/log';
import type { Sample } from '../../src/sample/sample';
import { Sampler } from '../../src/sample/sampler';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(e: Exposition, name: string): Promise<number> {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await e.render('prometheus'));
  return m ? Number(m[1]) : NaN;
}

/** A collector whose collect() answers what the test hands it. */
class Scripted implements Collector<number> {
  readonly applied: number[] = [];
  next: Promise<number | undefined> = Promise.resolve(1);
  constructor(readonly name: string) {}
  collect(): Promise<number | undefined> {
    return this.next;
  }
  apply(part: number): void {
    this.applied.push(part);
  }
}

test('each sample applies every part and hands the listeners the same parts; a failing collector is marked and the others go on', async () => {
  const e = new Exposition();
  const ok = new Scripted('mounts');
  const bad = new Scripted('probes');
  bad.next = Promise.reject(new Error('boom'));
  bad.next.catch(() => undefined);
  const sampler = new Sampler([ok, bad], e, new Logger('error', () => undefined), 60_000, 5_000);
  const seen: Sample[] = [];
  sampler.onSample((s) => seen.push(s));
  try {
    await sampler.sampleOnce();
    expect(ok.applied).toEqual([1]);
    expect(bad.applied).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.parts).toEqual({ mounts: 1 });
    expect(seen[0]?.collectors.mounts?.ok).toBe(true);
    expect(seen[0]?.collectors.probes?.ok).toBe(false);
    expect(await e.render('prometheus')).toMatch(/^mountstorm_sample_collector_success\{collector="probes"\} 0$/m);
  } finally {
    await sampler.stop();
  }
});

test('a part that comes after its deadline is applied with the next sample, not lost', async () => {
  const e = new Exposition();
  const slow = new Scripted('tracefs');
  let release: (v: number) => void = () => undefined;
  slow.next = new Promise<number>((r) => (release = r));
  const sampler = new Sampler([slow], e, new Logger('error', () => undefined), 60_000, 50);
  const seen: Sample[] = [];
  sampler.onSample((s) => seen.push(s));
  try {
    await sampler.sampleOnce(); // past the 50 ms deadline: marked failed
    expect(seen[0]?.collectors.tracefs?.ok).toBe(false);
    expect(slow.applied).toEqual([]);
    release(7);
    await slow.next;
    slow.next = Promise.resolve(8);
    // The late part is the next sample's, alone (a fresh part after it would hide its gauges); then fresh ones.
    await sampler.sampleOnce();
    expect(slow.applied).toEqual([7]);
    expect(seen[1]?.parts).toEqual({ tracefs: 7 });
    await sampler.sampleOnce();
    expect(slow.applied).toEqual([7, 8]);
    expect(seen[2]?.parts).toEqual({ tracefs: 8 });
  } finally {
    await sampler.stop();
  }
});

test("a collector still running half an interval in is late, not failed: the sample goes on without it, the others' parts in; failed only past the timeout", async () => {
  const e = new Exposition();
  const fast = new Scripted('tracefs');
  const slow = new Scripted('mounts');
  let calls = 0;
  let release: (v: number) => void = () => undefined;
  const stalled = new Promise<number>((r) => (release = r));
  slow.collect = () => (++calls === 2 ? stalled : Promise.resolve(10));
  const logged: string[] = [];
  // 200 ms interval: samples after the first wait 100 ms for a collector; failed after 400 ms.
  const sampler = new Sampler([fast, slow], e, new Logger('info', (l) => logged.push(l)), 200, 400);
  const seen: Sample[] = [];
  sampler.onSample((s) => seen.push(s));
  try {
    await sampler.sampleOnce();
    await sampler.sampleOnce();
    await sampler.sampleOnce();
    expect(seen.map((s) => s.parts)).toEqual([{ tracefs: 1, mounts: 10 }, { tracefs: 1 }, { tracefs: 1 }]);
    expect(seen.map((s) => s.collectors.mounts?.ok)).toEqual([true, true, true]);
    expect(calls).toBe(2); // not started again while its call is stuck
    expect(logged.join('')).not.toMatch(/timed out/);
    await sleep(400);
    await sampler.sampleOnce();
    expect(seen[3]?.collectors.mounts?.ok).toBe(false);
    expect(logged.join('')).toMatch(/msg="collector timed out" collector=mounts timeout_ms=400/);
    expect(await e.render('prometheus')).toMatch(/^mountstorm_sample_collector_success\{collector="mounts"\} 0$/m);
    release(9);
    await stalled;
    // Its late part is the next sample's, in place of a fresh one; the sample after starts it again.
    await sampler.sampleOnce();
    expect(slow.applied).toEqual([10, 9]);
    expect(seen[4]?.collectors.mounts?.ok).toBe(true);
    expect(calls).toBe(2);
    await sampler.sampleOnce();
    expect(slow.applied).toEqual([10, 9, 10]);
    expect(calls).toBe(3);
  } finally {
    await sampler.stop();
  }
});

test('the first sample waits for every collector up to the timeout, so the first scrape has every series; later samples wait half an interval', async () => {
  const e = new Exposition();
  const slow = new Scripted('namespaces');
  const after = (ms: number, v: number) => new Promise<number>((r) => setTimeout(() => r(v), ms));
  // 200 ms interval (later samples wait 100 ms), 2 s timeout: a walk that takes 300 ms.
  let calls = 0;
  slow.collect = () => after(300, ++calls);
  const sampler = new Sampler([slow], e, new Logger('error', () => undefined), 200, 2000);
  const seen: Sample[] = [];
  sampler.onSample((s) => seen.push(s));
  try {
    await sampler.sampleOnce();
    expect(seen[0]?.parts).toEqual({ namespaces: 1 });
    await sampler.sampleOnce();
    expect(seen[1]?.parts).toEqual({});
    expect(seen[1]?.collectors.namespaces?.ok).toBe(true);
  } finally {
    await sampler.stop();
  }
});

test('event-loop delay: a block of the loop shows in the sample that follows it, and only there', async () => {
  const e = new Exposition();
  const sampler = new Sampler([], e, new Logger('error', () => undefined), 60_000, 1000);
  try {
    await sleep(300);
    await sampler.sampleOnce();
    // Block the loop for 450 ms: the 100 ms timer's next tick comes at least 350 ms late (Date.now()
    // is in whole ms, the histogram in ns: a 400 ms block measured 299.7 ms once).
    const until = Date.now() + 450;
    while (Date.now() < until);
    await sleep(250);
    await sampler.sampleOnce();
    const blocked = await metric(e, 'mountstorm_event_loop_delay_p99_seconds');
    expect(blocked).toBeGreaterThanOrEqual(0.3);
    // Each sample reports its own interval: the block is gone from the next one.
    await sleep(300);
    await sampler.sampleOnce();
    expect(await metric(e, 'mountstorm_event_loop_delay_p99_seconds')).toBeLessThan(blocked);
  } finally {
    await sampler.stop();
  }
});
