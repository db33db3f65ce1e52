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
  /** Waits for the first successful scrape of a target (a counter's first sample is no increase: start what it should see after this). */
  scraped(): Promise<void>;
  /** Waits until Prometheus has scraped its first target n more times (what it holds then is what a query sees). */
  scrapes(n: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: {
  dir: string;
  targets: string[];
  alertmanager?: string;
  scrapeInterval?: string;
  extraJobs?: object[];
  scrape?: object;
  rules?: string;
}): Promise<RunningPrometheus> {
  const every = opts.scrapeInterval ?? '5s';
  const config = {
    global: { scrape_interval: every, evaluation_interval: every },
    rule_files: [opts.rules ?? RULES],
    alerting: opts.alertmanager
      ? { alertmanagers: [{ static_configs: [{ targets: [opts.alertmanager.replace(/^https?:\/\//, '')] }] }] }
      : undefined,
    scrape_configs: [
      { job_name: 'mountstorm', static_configs: [{ targets: opts.targets }], ...opts.scrape },
      ...(opts.extraJobs ?? []),
    ],
  };
  fs.writeFileSync(path.join(opts.dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const proc = spawn(
    'prometheus',
    [
      `--config.file=${opts.dir}/prometheus.yml`,
      `--storage.tsdb.path=${opts.dir}/prom-data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/-/ready`, 'prometheus', 30_000);
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const query: RunningPrometheus['query'] = async (expr) => {
    const r = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as {
      status: string;
      error?: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (r.status !== 'success') throw new Error(`query ${expr}: ${r.error}`);
    return r.data.result;
  };
  return {
    url,
    proc,
    query,
    async scraped() {
      for (let i = 0; (await query('up == 1')).length === 0; i++) {
        if (i > 100) throw new Error('Prometheus never scraped its targets');
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async scrapes(n) {
      // timestamp(up) moves on with every scrape of the target.
      const last = async () => Number((await query(`timestamp(up{job="mountstorm"})`))[0]?.value[1] ?? 0);
      let seen = await last();
      for (let got = 0, i = 0; got < n; i++) {
        if (i > 50 * (n + 1)) throw new Error(`Prometheus scraped its target ${got} of ${n} times`);
        await new Promise((r) => setTimeout(r, 200));
        const now = await last();
        if (now !== seen) [got, seen] = [got + 1, now];
      }
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
