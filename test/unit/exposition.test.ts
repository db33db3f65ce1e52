/**
 * Both exposition formats stay right whatever was rendered before, and while renders of the other
 * format are in flight: prom-client's OpenMetrics render renames the counters it renders, so the text
 * render must never see that rename (issue: the text lost `_total` after one OpenMetrics scrape).
 */
import type { Format } from '../../src/exposition';
import { buildExposition as build } from '../support/exposition';

function checkText(text: string): void {
  expect(text).toMatch(/^# TYPE t_events_total counter$/m);
  expect(text).toMatch(/^t_events_total 3$/m);
  expect(text).toMatch(/^t_calls_total\{syscall="mount"\} 2$/m);
  expect(text).not.toMatch(/^t_events \d/m);
  expect(text).not.toMatch(/# EOF/);
}

function checkOpenMetrics(text: string): void {
  expect(text).toMatch(/^# TYPE t_events counter$/m);
  expect(text).toMatch(/^t_events_total 3$/m);
  expect(text).toMatch(/^t_calls_total\{syscall="mount"\} 2$/m);
  expect(text).not.toMatch(/_total_total/);
  expect(text.endsWith('# EOF\n')).toBe(true);
}

const check: Record<Format, (t: string) => void> = { prometheus: checkText, openmetrics: checkOpenMetrics };

describe('two formats from one set of metrics', () => {
  test('text after OpenMetrics, OpenMetrics after text, over many samples', async () => {
    const e = build();
    const order: Format[] = ['openmetrics', 'prometheus', 'prometheus', 'openmetrics', 'openmetrics', 'prometheus'];
    for (let round = 0; round < 3; round++) {
      for (const f of order) check[f](await e.render(f));
      e.invalidate(); // a new sample: the cache is rendered anew
    }
  });

  test('renders of both formats in flight at once, through the shared cache and past it', async () => {
    const e = build();
    for (let round = 0; round < 20; round++) {
      const formats: Format[] = Array.from({ length: 16 }, (_, i) =>
        (i + round) % 3 === 0 ? 'prometheus' : 'openmetrics',
      );
      const bodies = await Promise.all(formats.map((f) => e.render(f)));
      bodies.forEach((b, i) => check[formats[i] as Format](b));
      if (round % 2 === 0) e.invalidate();
    }
  });
});
