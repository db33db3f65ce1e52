/** Whether the storm page can fire (src/alerts/capability.ts): each missing input named, from a Sample as the exporter has it. */
import { INPUT_GRACE_MS, PageCapabilityGauge, pageCapability, pageInputs } from '../../src/alerts/capability';
import { Exposition } from '../../src/exposition';
import type { Sample } from '../../src/sample/sample';

const all = { syscalls: true, nodeMountEvents: true, starts: true, probes: true };

test('every input there: capable, nothing blocks', () => {
  expect(pageCapability(all)).toEqual({ capable: true, blockers: [] });
});

test('either per-start signal is enough; neither blocks it', () => {
  expect(pageCapability({ ...all, syscalls: false }).capable).toBe(true);
  expect(pageCapability({ ...all, nodeMountEvents: false }).capable).toBe(true);
  expect(pageCapability({ ...all, syscalls: false, nodeMountEvents: false }).blockers.map((b) => b.reason)).toEqual([
    'no_mount_signature',
  ]);
});

test('no container starts, no lock wait: each named, with why', () => {
  const c = pageCapability({ syscalls: false, nodeMountEvents: false, starts: false, probes: false });
  expect(c.capable).toBe(false);
  expect(c.blockers.map((b) => b.reason)).toEqual(['no_mount_signature', 'no_container_starts', 'no_lock_wait']);
  for (const b of c.blockers) expect(b.why.length).toBeGreaterThan(20);
  // tracefs measures lock wait itself: the probes are not needed with it.
  expect(pageCapability({ ...all, probes: false }).capable).toBe(true);
});

test('from a sample: a collector counts only where it succeeded and has its part', () => {
  const sample = (over: Partial<Sample>): Sample => ({ at: 0, seconds: 1, parts: {}, collectors: {}, ...over });
  const ok = { ok: true, seconds: 0 };
  expect(pageInputs(sample({}))).toEqual({ syscalls: false, nodeMountEvents: false, starts: false, probes: false });
  const parts = {
    tracefs: {} as never,
    namespaces: { events: { scope: 'node' } } as never,
    containers: { watched: 1 } as never,
    probes: { namespace_sem: {} } as never,
  };
  expect(
    pageInputs(sample({ parts, collectors: { tracefs: ok, namespaces: ok, containers: ok, probes: ok } })),
  ).toEqual(all);
  // A failed collector, mount events of the watched namespace only, an unwatched task directory.
  const failed = { ...ok, ok: false };
  const narrow = {
    ...parts,
    namespaces: { events: { scope: 'watched' } } as never,
    containers: { watched: 0 } as never,
  };
  expect(
    pageInputs(sample({ parts: narrow, collectors: { tracefs: failed, namespaces: ok, containers: ok, probes: ok } })),
  ).toEqual({ syscalls: false, nodeMountEvents: false, starts: false, probes: true });
  // No runtime directory watched, but the kernel's new mount namespaces counted: starts are seen.
  const kernel = { ...narrow, namespaces: { created: 0, events: { scope: 'watched' } } as never };
  expect(pageInputs(sample({ parts: kernel, collectors: { namespaces: ok, containers: ok } })).starts).toBe(true);
  expect(pageInputs(sample({ parts: kernel, collectors: { namespaces: failed, containers: ok } })).starts).toBe(false);
  // Tracing armed on demand needs something that sees a storm anywhere: node-wide mount events, or
  // the container starts (which arm it at the page's start rate). With neither it does not count;
  // recording always, it does.
  const collectors = { tracefs: ok, namespaces: ok, containers: ok, probes: ok };
  expect(
    pageInputs(sample({ parts: { ...narrow, tracefs: { mode: 'on-demand' } as never }, collectors })).syscalls,
  ).toBe(false);
  const startsOnly = { ...narrow, containers: { watched: 1 } as never, tracefs: { mode: 'on-demand' } as never };
  expect(pageInputs(sample({ parts: startsOnly, collectors }))).toEqual({
    syscalls: true,
    nodeMountEvents: false,
    starts: true,
    probes: true,
  });
  expect(pageInputs(sample({ parts: { ...narrow, tracefs: { mode: 'always' } as never }, collectors })).syscalls).toBe(
    true,
  );
});

test('an input missing for a sample or two is not a lost capability; missing past the grace it is, said once', () => {
  const ok = { ok: true, seconds: 0 };
  const parts = {
    tracefs: { mode: 'always' } as never,
    containers: { watched: 1 } as never,
    probes: { namespace_sem: {} } as never,
  };
  const at = (t: number, tracefsOk: boolean): Sample => ({
    at: t,
    seconds: 1,
    parts,
    collectors: { tracefs: { ...ok, ok: tracefsOk }, containers: ok, probes: ok },
  });
  const changes: string[][] = [];
  const gauge = new PageCapabilityGauge(new Exposition(), (c) => changes.push(c.blockers.map((b) => b.reason)));
  gauge.update(at(0, true));
  // tracefs's sample fails under load, then recovers: nothing said, still capable.
  gauge.update(at(1000, false));
  gauge.update(at(2000, true));
  expect(gauge.current?.capable).toBe(true);
  // Failing from 3 s on: still within the grace at 2 s + INPUT_GRACE_MS, lost after it.
  for (let t = 3000; t <= 2000 + INPUT_GRACE_MS; t += 1000) gauge.update(at(t, false));
  expect(gauge.current?.capable).toBe(true);
  gauge.update(at(3000 + INPUT_GRACE_MS, false));
  expect(gauge.current?.capable).toBe(false);
  expect(changes).toEqual([[], ['no_mount_signature']]);
  // Never there from the start: lost at once.
  const fresh = new PageCapabilityGauge(new Exposition(), () => undefined);
  fresh.update(at(0, false));
  expect(fresh.current?.blockers.map((b) => b.reason)).toEqual(['no_mount_signature']);
});
