/** Debian's real prometheus, scraping given targets with the shipped rules and sending alerts to an Alertmanager. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, waitReady } from './alertmanager';
import { REPO } from './env';

export const RULES = path.join(REPO, 'alerts/mountstorm.rules.yaml');

export interface RunningPrometheus {
  url: string;
  proc: ChildProcess;
  /** An instant query; the result vector. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: { dir: string; targets: string[]; alertmanager?: string; scrapeInterval?: string; extraJobs?: object[]; scrape?: object; rules?: string }): Promise<RunningPrometheus> {
  const every = opts.scrapeInterval ?? '5s';
  const config = {
    global: { scrape_interval: every, evaluation_interval: every },
    rule_files: [opts.rules ?? RULES],
    alerting: opts.alertmanager ? { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager.replace(/^https?:\/\//, '')] }] }] } : undefined,
    scrape_configs: [{ job_name: 'mountstorm', static_configs: [{ targets: opts.targets }], ...opts.scrape }, ...(opts.extraJobs ?? [])],
  };
  fs.writeFileSync(path.join(opts.dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const proc = spawn('prometheus', [`--config.file=${opts.dir}/prometheus.yml`, `--storage.tsdb.path=${opts.dir}/prom-data`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, 'prometheus', 30_000);
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    url,
    proc,
    async query(expr) {
      const r = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (r.status !== 'success') throw new Error(`query ${expr}: ${r.error}`);
      return r.data.result;
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
