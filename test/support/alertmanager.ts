/** Debian's real prometheus-alertmanager with the shipped config, pointed at a local PagerDuty receiver. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { REPO } from './env';
import type { PagerDutyReceiver } from './pagerduty';

export const AM_CONFIG = path.join(REPO, 'deploy/alertmanager/alertmanager.yml');

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function waitReady(url: string, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not become ready at ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RunningAlertmanager {
  url: string;
  proc: ChildProcess;
  keys: Record<'page' | 'tickets', string>;
}

/** The shipped Alertmanager config, pointed at a local PagerDuty receiver with routing keys in tmp files. */
export async function startAlertmanager(pd: PagerDutyReceiver, dir: string): Promise<RunningAlertmanager> {
  const keys = { page: 'p'.repeat(32), tickets: 't'.repeat(32) };
  for (const [k, v] of Object.entries(keys)) fs.writeFileSync(path.join(dir, `${k}.key`), v);
  const cfg = fs
    .readFileSync(AM_CONFIG, 'utf8')
    .replaceAll('https://events.pagerduty.com/v2/enqueue', pd.url)
    .replaceAll('/etc/alertmanager/secrets/pagerduty-page.key', path.join(dir, 'page.key'))
    .replaceAll('/etc/alertmanager/secrets/pagerduty-tickets.key', path.join(dir, 'tickets.key'));
  fs.writeFileSync(path.join(dir, 'alertmanager.yml'), cfg);
  const port = await freePort();
  const proc = spawn('prometheus-alertmanager', [`--config.file=${dir}/alertmanager.yml`, `--storage.path=${dir}/am-data`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, 'alertmanager', 15_000);
  return { url, proc, keys };
}
