/**
 * The node's own page when its Alertmanager is gone mid-storm: the real exporter during a real
 * storm, the real Alertmanager (shipped config) killed before the storm and started again during
 * it, the local PagerDuty receiver. The exporter keeps sampling and serving throughout; the page
 * arrives after the restart, while the storm still lasts.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, startAlertmanager, stopAlertmanager, type RunningAlertmanager } from '../support/alertmanager';
import { CLI, IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';
import { startExporter } from '../support/exporter';
import { sum } from '../support/metrics';
import { startPagerDuty } from '../support/pagerduty';

const ready = IS_ROOT && hasCommand('prometheus-alertmanager');
requireInCi(ready, 'root and prometheus-alertmanager for the node-push restart test');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

testIf(ready, 'needs root (storm, tracefs) and prometheus-alertmanager (scripts/setup-test.sh)')(
  'Alertmanager killed before a storm and started again during it: the exporter keeps sampling and serving, and the page arrives while the storm lasts',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-push-'));
    const tasks = path.join(dir, 'tasks');
    fs.mkdirSync(tasks);
    const pd = await startPagerDuty();
    const port = await freePort();
    let am: RunningAlertmanager = await startAlertmanager(pd, fs.mkdtempSync(path.join(dir, 'am1-')), { port });
    const exp = await startExporter(
      [
        '--sample.interval=1s',
        `--collector.containers.task-dir=${tasks}`,
        `--alertmanager.url=${am.url}`,
        '--alertmanager.instance=node-a',
      ],
      { ownMountNamespace: true },
    );
    let storm: ReturnType<typeof spawn> | undefined;
    let stormOver = false;
    let stormDone: Promise<void> = Promise.resolve();
    try {
      for (let i = 0; sum(await exp.metrics(), 'mountstorm_alertmanager_up') !== 1; i++) {
        if (i > 100) throw new Error('no heartbeat reached Alertmanager');
        await sleep(200);
      }
      await stopAlertmanager(am, 'SIGKILL');
      storm = spawn(
        process.execPath,
        [
          CLI,
          'storm',
          '--json',
          '--no-progress',
          '--duration=60s',
          '--concurrency=8',
          '--layers=50',
          `--task-dir=${tasks}`,
        ],
        { stdio: 'ignore' },
      );
      const s = storm;
      stormDone = new Promise<void>((r) => s.on('exit', () => ((stormOver = true), r())));
      for (let i = 0; !exp.logs().includes('msg="node alert firing" alertname=MountStormImminent'); i++) {
        if (i > 300) throw new Error(`the node never fired:\n${exp.logs().slice(-3000)}`);
        await sleep(100);
      }
      // Alertmanager is down: sampling and scrapes go on, the failures are counted.
      const before = sum(await exp.metrics(), 'mountstorm_samples_total');
      await sleep(3000);
      const during = await exp.metrics();
      expect(sum(during, 'mountstorm_samples_total')).toBeGreaterThanOrEqual(before + 2);
      expect(sum(during, 'mountstorm_alertmanager_up')).toBe(0);
      expect(sum(during, 'mountstorm_alertmanager_notifications_total', { result: 'failed' })).toBeGreaterThan(0);
      expect(pd.events).toEqual([]);

      am = await startAlertmanager(pd, fs.mkdtempSync(path.join(dir, 'am2-')), { port });
      for (let i = 0; !pd.events.some((e) => e.event_action === 'trigger'); i++) {
        if (i > 300) throw new Error('no page after Alertmanager came back');
        await sleep(100);
      }
      expect(stormOver).toBe(false);
      const page = pd.events.find((e) => e.event_action === 'trigger');
      expect(page?.payload?.component).toBe('MountStormImminent');
      expect(page?.payload?.group).toBe('node-a');
      expect((exp.logs().match(/cannot notify Alertmanager/g) ?? []).length).toBeLessThanOrEqual(2); // once per cause
    } finally {
      storm?.kill('SIGTERM');
      await stormDone;
      await stopAlertmanager(am);
      await exp.stop('SIGTERM');
      await pd.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  180_000,
);
