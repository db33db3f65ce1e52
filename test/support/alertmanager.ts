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
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
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

export interface AlertmanagerOptions {
  /** Listen here (to start one again where it was); default a free port. */
  port?: number;
  /** An exporter-toolkit web config (TLS, basic auth) for its API. */
  webConfig?: string;
}

/** The shipped Alertmanager config, pointed at a local PagerDuty receiver with routing keys in tmp files. */
export async function startAlertmanager(
  pd: PagerDutyReceiver,
  dir: string,
  opts: AlertmanagerOptions = {},
): Promise<RunningAlertmanager> {
  const keys = { page: 'p'.repeat(32), tickets: 't'.repeat(32) };
  for (const [k, v] of Object.entries(keys)) fs.writeFileSync(path.join(dir, `${k}.key`), v);
  const cfg = fs
    .readFileSync(AM_CONFIG, 'utf8')
    .replaceAll('https://events.pagerduty.com/v2/enqueue', pd.url)
    .replaceAll('/etc/alertmanager/secrets/pagerduty-page.key', path.join(dir, 'page.key'))
    .replaceAll('/etc/alertmanager/secrets/pagerduty-tickets.key', path.join(dir, 'tickets.key'));
  fs.writeFileSync(path.join(dir, 'alertmanager.yml'), cfg);
  const port = opts.port ?? (await freePort());
  const args = [
    `--config.file=${dir}/alertmanager.yml`,
    `--storage.path=${dir}/am-data`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
  ];
  if (opts.webConfig) args.push(`--web.config.file=${opts.webConfig}`);
  const proc = spawn('prometheus-alertmanager', args, { stdio: 'ignore' });
  const tls = opts.webConfig !== undefined && fs.readFileSync(opts.webConfig, 'utf8').includes('tls_server_config');
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  if (!opts.webConfig) await waitReady(`${url}/-/ready`, 'alertmanager', 15_000);
  return { url, proc, keys };
}

/** Stops an Alertmanager and waits until it has exited. */
export async function stopAlertmanager(am: RunningAlertmanager, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (am.proc.exitCode !== null || am.proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => am.proc.once('exit', () => r()));
  am.proc.kill(signal);
  await exited;
}

/** The alerts an Alertmanager holds (active ones, as GET /api/v2/alerts lists them). */
export async function amAlerts(url: string): Promise<
  Array<{
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    status: { state: string };
  }>
> {
  const r = await fetch(`${url}/api/v2/alerts`);
  if (!r.ok) throw new Error(`GET ${url}/api/v2/alerts: ${r.status}`);
  return (await r.json()) as Awaited<ReturnType<typeof amAlerts>>;
}
