/**
 * The landing page in real headless Chromium (Debian's chromium, driven by playwright-core): it
 * loads with no request leaving the exporter, its numbers match /metrics, and during a real storm
 * it shows the storm (screenshot saved to test-artifacts/).
 */
import { ALERTS } from '../../src/alerts/spec';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ARTIFACTS, CLI, IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';
import { inMountNamespace, startExporter, type RunningExporter } from '../support/exporter';
import { bundle, mountOverlay } from '../support/overlay-bundle';
import { FIXTURE_ARGS } from '../support/fixtures';
import { makeCerts } from '../support/certs';
import { sum } from '../support/metrics';
import * as os from 'node:os';
import * as bcrypt from 'bcryptjs';

requireInCi(hasCommand('chromium'), 'chromium (scripts/setup-test.sh installs it)');
const withChromium = testIf(hasCommand('chromium'), 'chromium not installed (scripts/setup-test.sh installs it)');

let browser: Browser | undefined;
beforeAll(async () => {
  if (hasCommand('chromium'))
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});

async function open(exp: RunningExporter): Promise<{ page: Page; requests: string[] }> {
  const page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 1000 } });
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${exp.url}/`);
  await page.waitForSelector('body[data-loaded]');
  return { page, requests };
}

const value = (page: Page, field: string) => page.locator(`[data-field="${field}"]`).first().getAttribute('data-value');

describe('landing page on the dual-socket fixture host', () => {
  let exp: RunningExporter;
  beforeAll(async () => {
    exp = await startExporter(FIXTURE_ARGS);
    await exp.waitSamples(3);
  });
  afterAll(() => exp.stop());

  withChromium('loads without any outside request; its numbers match /metrics', async () => {
    const { page, requests } = await open(exp);
    const m = await exp.metrics();
    expect(Number(await value(page, 'mounts'))).toBe(sum(m, 'mountstorm_mounts'));
    expect(Number(await value(page, 'mountMax'))).toBe(sum(m, 'mountstorm_mount_max'));
    expect(Number(await value(page, 'overlayMax'))).toBe(sum(m, 'mountstorm_overlay_lower_layers_max'));
    expect(Number(await value(page, 'idmapped'))).toBe(sum(m, 'mountstorm_idmapped_mounts'));
    const topo = m.find((s) => s.name === 'mountstorm_cpu_topology_info')?.labels ?? {};
    expect(await value(page, 'sockets')).toBe(topo.sockets);
    expect(await value(page, 'numaNodes')).toBe(topo.numa_nodes);
    expect(await value(page, 'smt')).toBe(String(topo.smt === 'on'));
    expect(await page.locator('[data-field="instance"]').first().textContent()).toBe('Amazon EC2 r5.metal');
    // 12-layer overlays on 2 sockets with SMT: the info alert's condition holds, nothing else.
    expect(await page.locator('tr[data-alert="MountStormDeepLayersRiskyTopology"]').getAttribute('data-holds')).toBe(
      'true',
    );
    expect(await page.locator('tr[data-alert="MountStormImminent"]').getAttribute('data-holds')).toBe('false');
    expect(await page.locator('#conditions tbody tr').count()).toBe(ALERTS.length - 1); // all but the scrape's own
    // A fixture tree: no tracefs, no mount events, no task directory. The banner says it cannot
    // page, with each reason /metrics gives.
    expect(await page.locator('#page').isVisible()).toBe(true);
    const blocked = m
      .filter((s) => s.name === 'mountstorm_storm_page_blocked' && s.value === 1)
      .map((s) => s.labels.reason as string);
    expect(sum(m, 'mountstorm_storm_page_capable')).toBe(0);
    expect(blocked.length).toBeGreaterThan(0);
    const items = page.locator('#page li');
    const shown: string[] = [];
    for (let i = 0; i < (await items.count()); i++)
      shown.push((await items.nth(i).getAttribute('data-reason')) as string);
    expect(shown.sort()).toEqual(blocked.sort());
    for (const r of requests) expect(new URL(r).origin).toBe(new URL(exp.url).origin);
    await page.close();
  });

  test('/api/state is JSON and not cached', async () => {
    const r = await fetch(`${exp.url}/api/state`);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const s = (await r.json()) as { conditions: unknown[]; history: { t: number[] } };
    expect(s.conditions).toHaveLength(ALERTS.length - 1);
    expect(s.history.t.length).toBeGreaterThanOrEqual(2);
  });
});

withChromium(
  'behind TLS and basic auth: loads, fetches its data through the same credentials, numbers match',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-landing-tls-'));
    makeCerts(dir);
    fs.writeFileSync(
      path.join(dir, 'web.yml'),
      `tls_server_config: {cert_file: server.crt, key_file: server.key}\nbasic_auth_users: {viewer: '${bcrypt.hashSync('pw', 10)}'}\n`,
    );
    const exp = await startExporter([...FIXTURE_ARGS, `--web.config.file=${dir}/web.yml`]);
    const ctx = await (browser as Browser).newContext({
      ignoreHTTPSErrors: true,
      httpCredentials: { username: 'viewer', password: 'pw' },
    });
    try {
      const url = exp.url.replace('http://', 'https://');
      // The page shows the latest sample: wait for the first one, through the same credentials.
      const deadline = Date.now() + 20_000;
      while (!/^mountstorm_samples_total [1-9]/m.test(await (await ctx.request.get(`${url}/metrics`)).text())) {
        if (Date.now() > deadline) throw new Error('no sample within 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      const page = await ctx.newPage();
      const failed: string[] = [];
      page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
      await page.goto(`${url}/`);
      await page.waitForSelector('body[data-loaded]');
      expect(failed).toEqual([]);
      expect(await value(page, 'sockets')).toBe('2');
      const unauth = await (browser as Browser).newContext({ ignoreHTTPSErrors: true });
      expect((await unauth.request.get(`${url}/`)).status()).toBe(401);
      expect((await unauth.request.get(`${url}/api/state`)).status()).toBe(401);
      await unauth.close();
    } finally {
      await ctx.close();
      await exp.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

describe('landing page during a real storm', () => {
  requireInCi(IS_ROOT, 'root for a real storm');
  testIf(IS_ROOT && hasCommand('chromium'), 'needs root (storm, tracefs) and chromium')(
    'shows the storm: syscall rate and lock wait up, the leading alert condition holds; screenshot saved',
    async () => {
      // Its container starts are bundles in a task directory, as containerd's are.
      const tasks = fs.mkdtempSync('/tmp/mountstorm-landing-tasks-');
      const exp = await startExporter(
        ['--sample.interval=500ms', `--collector.containers.task-dir=${tasks}`, '--collector.tracefs.mode=always'],
        { privateNamespaces: true },
      );
      let storm: Promise<void> | undefined;
      try {
        await exp.waitSamples(4);
        // One container with a real 3-layer rootfs overlay in the exporter's namespace (the drill's
        // bundles have none): the deepest-images table.
        mountOverlay(bundle(tasks, 'k8s.io', 'web-0', 'registry.example/<b>web</b>:1'), 3, (script) =>
          inMountNamespace(exp, script),
        );
        storm = new Promise<void>((resolve, reject) =>
          execFile(
            process.execPath,
            [
              CLI,
              'storm',
              '--json',
              '--no-progress',
              '--duration=12s',
              '--concurrency=8',
              '--layers=50',
              `--task-dir=${tasks}`,
            ],
            { maxBuffer: 64 << 20 },
            (err) => (err ? reject(new Error(err.message, { cause: err })) : resolve()),
          ),
        );
        storm.catch(() => undefined); // handled: awaited below, and in finally
        const { page } = await open(exp);
        // The storm has built up once the page shows the leading alert's condition holding.
        await page.waitForSelector('tr[data-alert="MountStormImminent"][data-holds="true"]', { timeout: 30_000 });
        // Polled from here: waitForFunction polls by evaluating a string in the page, which the page's
        // own CSP (no 'unsafe-eval') refuses whenever the first look is not already true.
        for (let i = 0; !(Number(await value(page, 'syscalls')) > 500); i++) {
          if (i >= 50) throw new Error(`the syscall rate never passed 500/s: ${await value(page, 'syscalls')}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        const m = await exp.metrics();
        expect(Number(await value(page, 'mounts'))).toBe(sum(m, 'mountstorm_mounts'));
        expect(Number(await value(page, 'lockWait'))).toBeGreaterThan(0);
        expect(await page.locator('tr[data-alert="MountStormImminent"]').getAttribute('data-holds')).toBe('true');
        // It can page (tracing always on, the task directory watched): no banner.
        expect(sum(m, 'mountstorm_storm_page_capable')).toBe(1);
        expect(await page.locator('#page').isVisible()).toBe(false);
        expect(Number(await page.locator('#chart-syscalls').getAttribute('data-points'))).toBeGreaterThan(5);
        // What a start costs here: the cause the page would name for these starts, the host's CPUs
        // (one per-CPU mask each), and the table every new mount namespace copies…
        expect(await page.locator('[data-field="cause"]').textContent()).toBe('per layer idmap');
        expect(Number(await value(page, 'idmapsPerStart'))).toBeGreaterThan(10);
        // The per-layer drill makes 102 new mounts per start: over the signature's 75.
        expect(Number(await value(page, 'madePerStart'))).toBeGreaterThan(75);
        expect(Number(await value(page, 'cpus'))).toBe(os.cpus().length);
        expect(Number(await value(page, 'tableCopied'))).toBeGreaterThan(0);
        // …and the time each start spent copying it (tracefs): the drill's threads make no namespace,
        // so far under the copy signature's 5 ms.
        expect(await page.locator('[data-field="copyPerStart"]').textContent()).toMatch(/^\d+\.\d\d ms$/);
        expect(Number(await value(page, 'copyPerStart'))).toBeLessThan(0.005);
        // The image behind the starts, named from the bundles, with as many starts as the exporter counted for it.
        const first = page.locator('#images tbody tr').first();
        expect(await first.locator('td').first().textContent()).toBe('drill/per-layer-idmap-50-layers:latest');
        expect(Number((await first.locator('td').nth(1).textContent())?.replace(/,/g, ''))).toBeGreaterThan(10);
        expect(await first.locator('td').nth(2).textContent()).toBe('–'); // no overlay found for the drill's
        // The deepest image running, its name as text (never markup), with its layers and containers.
        expect(await page.locator('#deepest tbody tr').count()).toBe(1);
        expect(await page.locator('#deepest tbody tr td').allTextContents()).toEqual([
          'registry.example/<b>web</b>:1',
          '3',
          '1',
        ]);
        const web1 = page.locator('#images tbody tr', { hasText: 'registry.example/<b>web</b>:1' });
        expect(await web1.locator('td').allTextContents()).toEqual(['registry.example/<b>web</b>:1', '1', '3']);
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: path.join(ARTIFACTS, 'landing-storm.png'), fullPage: true });
        await page.close();
        await storm;
      } finally {
        // The drill ends before its task directory is removed, whatever failed above.
        await storm?.catch(() => undefined);
        await exp.stop('SIGTERM');
        fs.rmSync(tasks, { recursive: true, force: true });
      }
    },
    90_000,
  );
});
