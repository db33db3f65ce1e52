/** A small Exposition with one metric of each kind, set, for the exposition tests of both tiers. */
import { Exposition, LATENCY_BUCKETS } from '../../src/exposition';

export function buildExposition(): Exposition {
  const e = new Exposition();
  e.counter('t_events_total', 'Events.').inc(3);
  e.counter('t_calls_total', 'Calls.', ['syscall']).inc({ syscall: 'mount' }, 2);
  e.gauge('t_level', 'A level.').set(7);
  e.histogram('t_duration_seconds', 'Durations.', LATENCY_BUCKETS).observe(0.001);
  const counts = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  counts[3] = 4;
  e.bucketHistogram('t_bulk_seconds', 'Bulk.', LATENCY_BUCKETS, ['syscall']).addCounts(
    { syscall: 'mount' },
    counts,
    0.0004,
  );
  e.invalidate();
  return e;
}
