/**
 * The real Prometheus scrapes the exporter with OpenMetrics (what it asks for by default) while this
 * test reads the text format at the same time: every text scrape keeps `_total` on its counters and
 * passes promtool, and Prometheus stores the counters under the names the rules and dashboards use.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import type { AddressInfo } from 'node:net';
import { hasCommand, requireInCi, testIf } from '../support/env';
import { startExporter, type RunningExporter } from '../support/exporter';
import { FIXTURE_ARGS } from '../support/fixtures';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus';

const ready = hasCommand('prometheus') && hasCommand('promtool');
requireInCi(ready, 'prometheus and promtool (Debian package prometheus)');

/** Forwards to the exporter and records the Accept header of every scrape. */
function recordingProxy(target: string): Promise<{ url: string; accepts: string[]; close(): Promise<void> }> {
  const accepts: string[] = [];
  const server = http.createServer((req, res) => {
    accepts.push(req.headers.accept ?? '');
    const up = http.request(`${target}${req.url}`, { headers: { accept: req.headers.accept ?? '' } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    up.end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `127.0.0.1:${(server.address() as AddressInfo).port}`,
        accepts,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

testIf(ready, 'needs Debian prometheus and promtool (scripts/setup-test.sh)')(
  'Prometheus scraping OpenMetrics and a text reader at the same time both see the counters with _total',
  async () => {
    const dir = fs.mkdtempSync(`${os.tmpdir()}/mountstorm-formats-`);
    let exp: RunningExporter | undefined;
    let prom: RunningPrometheus | undefined;
    let proxy: Awaited<ReturnType<typeof recordingProxy>> | undefined;
    try {
      exp = await startExporter(FIXTURE_ARGS);
      proxy = await recordingProxy(exp.url);
      prom = await startPrometheus({ dir, targets: [proxy.url], scrapeInterval: '1s' });
      const p = proxy;
      const textReads: string[] = [];
      // Read text while Prometheus scrapes, until it has scraped five times with OpenMetrics.
      while (p.accepts.filter((a) => /application\/openmetrics-text/.test(a)).length < 5) {
        textReads.push(await (await fetch(`${exp.url}/metrics`)).text());
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const _ of [1, 2, 3]) textReads.push(await (await fetch(`${exp.url}/metrics`)).text());
      for (const text of textReads) {
        expect(text).toMatch(/^mountstorm_samples_total \d+$/m);
        expect(text).toMatch(/^mountstorm_mounts_added_total \d+$/m);
        expect(text).not.toMatch(/^mountstorm_samples \d/m);
      }
      expect(
        execFileSync('promtool', ['check', 'metrics'], { input: textReads[textReads.length - 1], encoding: 'utf8' }),
      ).toBe('');
      const stored = await prom.query('mountstorm_samples_total');
      expect(stored.length).toBe(1);
      expect(await prom.query('mountstorm_samples')).toEqual([]);
    } finally {
      await prom?.stop();
      await proxy?.close();
      await exp?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  60_000,
);
