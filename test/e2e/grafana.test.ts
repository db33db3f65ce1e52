/**
 * Every panel query of the dashboards run against a real Prometheus that scraped the exporter
 * during a short real storm: each parses and returns data. A picture of the node dashboard's main
 * panels is drawn from that data in headless Chromium (no Grafana server here) for the README.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { DASHBOARDS } from '../../src/grafana/render';
import { ARTIFACTS, CLI, IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';
import { freePort } from '../support/alertmanager';
import { inMountNamespace, startExporter } from '../support/exporter';
import { bundle, mountOverlay } from '../support/overlay-bundle';
import { startPrometheus } from '../support/prometheus';
import { loadDashboard as load } from '../support/dashboards';

const ready = IS_ROOT && hasCommand('prometheus') && hasCommand('chromium');
requireInCi(ready, 'root, prometheus and chromium for the dashboard queries');

testIf(ready, 'needs root (storm, tracefs), Debian prometheus and chromium (scripts/setup-test.sh)')(
  'every panel query returns data from a real Prometheus after a real storm; a picture of the node dashboard',
  async () => {
    const dir = fs.mkdtempSync('/tmp/mountstorm-grafana-');
    const tasks = path.join(dir, 'tasks');
    fs.mkdirSync(tasks);
    // The storm's containers are bundles in a task directory the exporter watches (the per-start
    // panels), and the node posts to an Alertmanager (here none answers: the page-path panel shows it down).
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const exp = await startExporter(
      [
        '--sample.interval=500ms',
        '--collector.tracefs.mode=always',
        `--collector.containers.task-dir=${tasks}`,
        `--alertmanager.url=${nobody}`,
      ],
      { privateNamespaces: true },
    );
    const instance = exp.url.replace('http://', '');
    const prom = await startPrometheus({ dir, targets: [instance], scrapeInterval: '1s' });
    try {
      const start = Date.now() / 1000;
      await prom.scraped();
      await prom.scrapes(1);
      // Two containers that run through it all, started 2 s apart (a counter's first sample is no
      // increase), each rootfs a real 3-layer overlay in the exporter's namespace (the drill's
      // containers are bundles without one): the layer panels' data.
      for (const id of ['web-0', 'web-1']) {
        mountOverlay(bundle(tasks, 'k8s.io', id, 'registry.example/web:1'), 3, (script) =>
          inMountNamespace(exp, script),
        );
        await prom.scrapes(2);
      }
      await new Promise<void>((resolve, reject) =>
        execFile(
          process.execPath,
          [
            CLI,
            'storm',
            '--json',
            '--no-progress',
            '--duration=8s',
            '--concurrency=4',
            '--layers=30',
            `--task-dir=${tasks}`,
          ],
          { maxBuffer: 64 << 20 },
          (e) => (e ? reject(new Error(e.message, { cause: e })) : resolve()),
        ),
      );
      // The storm's last samples, and then a quiet one, in Prometheus.
      await prom.scrapes(4);
      const end = Date.now() / 1000;
      const subst = (e: string) =>
        e
          .replaceAll('$instance', instance.replaceAll('.', '\\\\.'))
          .replaceAll('$__rate_interval', '15s')
          .replaceAll('$__range', `${Math.ceil(end - start)}s`);
      const results: Record<
        string,
        { title: string; unit: string; series: { name: string; points: [number, number][] }[] }
      > = {};
      const empty: string[] = [];
      for (const name of Object.keys(DASHBOARDS)) {
        for (const p of load(name).panels) {
          for (const t of p.targets ?? []) {
            const expr = subst(t.expr);
            const url = t.instant
              ? `${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}&time=${end}`
              : `${prom.url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=1`;
            const r = (await (await fetch(url)).json()) as {
              status: string;
              error?: string;
              data: {
                result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
              };
            };
            expect({ panel: `${name}: ${p.title}`, status: r.status, error: r.error }).toEqual({
              panel: `${name}: ${p.title}`,
              status: 'success',
              error: undefined,
            });
            const values = r.data.result
              .flatMap((s) => (s.values ?? (s.value ? [s.value] : [])).map(([, v]) => Number(v)))
              .filter((v) => Number.isFinite(v));
            if (values.length === 0) empty.push(`${name}: ${p.title} [${t.refId}] ${t.expr}`);
            if (name === 'mountstorm-node.json' && !t.instant && p.type === 'timeseries') {
              const key = `${p.id}`;
              results[key] ??= { title: p.title, unit: p.fieldConfig?.defaults?.unit ?? '', series: [] };
              for (const s of r.data.result) {
                const legend =
                  (t.legendFormat ?? '').replace(/\{\{(\w+)\}\}/g, (_, l: string) => s.metric[l] ?? '') ||
                  t.refId ||
                  '';
                results[key].series.push({
                  name: legend,
                  points: (s.values ?? [])
                    .map(([x, v]) => [x, Number(v)] as [number, number])
                    .filter(([, v]) => Number.isFinite(v)),
                });
              }
            }
          }
        }
      }
      expect(empty).toEqual([]);
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await drawPicture(Object.values(results), path.join(ARTIFACTS, 'node-dashboard.png'));
    } finally {
      await prom.stop();
      await exp.stop('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  120_000,
);

/** The main panels of the node dashboard as small multiples, drawn in Chromium from the query data. */
async function drawPicture(
  panels: { title: string; unit: string; series: { name: string; points: [number, number][] }[] }[],
  file: string,
): Promise<void> {
  const main = [
    'Mount syscalls by syscall',
    'Measured lock wait by lock kind',
    'Lock-wait probes above baseline',
    'Mount syscall latency p99',
    'CPU by socket: system vs user',
    'Mount table by filesystem type',
  ];
  const colours = ['#2f6fde', '#d9480f', '#2b8a3e', '#ae3ec9', '#e67700', '#1098ad', '#c2255c', '#5c940d'];
  const fmt = (v: number, unit: string) =>
    unit === 's'
      ? v >= 1
        ? `${v.toFixed(2)} s`
        : v >= 1e-3
          ? `${(v * 1e3).toFixed(1)} ms`
          : `${(v * 1e6).toFixed(0)} µs`
      : unit === 'percentunit'
        ? `${(v * 100).toFixed(0)} %`
        : v >= 1000
          ? `${(v / 1000).toFixed(1)}k`
          : v.toFixed(v < 10 ? 2 : 0);
  const svgs = main.map((title) => {
    const p = panels.find((x) => x.title === title);
    if (!p) return '';
    const all = p.series.flatMap((s) => s.points);
    const x0 = Math.min(...all.map(([x]) => x));
    const x1 = Math.max(...all.map(([x]) => x));
    const max = Math.max(1e-12, ...all.map(([, v]) => v));
    const lines = p.series
      .filter((s) => s.points.length > 1)
      .slice(0, 8)
      .map(
        (s, i) =>
          `<polyline fill="none" stroke="${colours[i % colours.length]}" stroke-width="1.5" points="${s.points.map(([x, v]) => `${(((x - x0) / Math.max(1, x1 - x0)) * 440 + 50).toFixed(1)},${(180 - (v / max) * 160).toFixed(1)}`).join(' ')}"/>`,
      );
    const legend = p.series
      .slice(0, 8)
      .map((s, i) => `<span style="color:${colours[i % colours.length]}">■ ${s.name}</span>`)
      .join(' ');
    return `<div class="panel"><h3>${title}</h3><svg viewBox="0 0 500 190"><line x1="50" y1="180" x2="490" y2="180" stroke="#ccc"/><line x1="50" y1="20" x2="50" y2="180" stroke="#ccc"/><text x="46" y="24" text-anchor="end" font-size="10">${fmt(max, p.unit)}</text><text x="46" y="180" text-anchor="end" font-size="10">0</text>${lines.join('')}</svg><div class="legend">${legend}</div></div>`;
  });
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>body{font:13px system-ui,sans-serif;margin:16px;background:#f6f7f9}h1{font-size:16px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}.panel{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px 10px}h3{margin:0 0 4px;font-size:13px}.legend{font-size:11px;color:#444}</style></head><body><h1>Mount storm — node (panel data from a real Prometheus during a 8 s storm)</h1><div class="grid">${svgs.join('')}</div></body></html>`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.setContent(html);
    await page.screenshot({ path: file, fullPage: true });
  } finally {
    await browser.close();
  }
}
