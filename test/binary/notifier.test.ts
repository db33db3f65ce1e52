/**
 * The node's notifier against the real Alertmanager: over TLS with a client certificate and basic
 * auth (Alertmanager's own --web.config.file), an HA pair, an Alertmanager that is down and comes
 * back, one that refuses the credentials; and the exporter's flags and config file as a user gets
 * them wrong.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import type { AlertState } from '../../src/alerts/evaluate';
import { Exposition } from '../../src/exposition';
import { Logger } from '../../src/log';
import { loadClientConfig, parseAlertmanagerUrl } from '../../src/notify/config';
import { Notifier } from '../../src/notify/notifier';
import {
  amAlerts,
  freePort,
  startAlertmanager,
  stopAlertmanager,
  type RunningAlertmanager,
} from '../support/alertmanager';
import { CLI, hasCommand, requireInCi, testIf } from '../support/env';
import { startExporter } from '../support/exporter';
import { parseExposition, sum } from '../support/metrics';
import { startPagerDuty, type PagerDutyReceiver } from '../support/pagerduty';

requireInCi(hasCommand('prometheus-alertmanager') && hasCommand('openssl'), 'prometheus-alertmanager and openssl');
const withAm = testIf(
  hasCommand('prometheus-alertmanager') && hasCommand('openssl'),
  'prometheus-alertmanager or openssl not installed (scripts/setup-test.sh installs them)',
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The exposition as a scrape after the next sample would see it (renders are cached per sample). */
async function metricsOf(e: Exposition) {
  e.invalidate();
  return parseExposition(await e.render('prometheus'));
}

function firing(name = 'MountStormImminent', firedAt = Date.now()): AlertState {
  return {
    name,
    severity: 'critical',
    phase: 'firing',
    activeAt: firedAt - 2000,
    firedAt,
    summary: 's',
    description: 'd',
    runbookUrl: 'https://example.com/rb',
  };
}

let dir: string;
let pd: PagerDutyReceiver;
const running: RunningAlertmanager[] = [];
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-notify-'));
  pd = await startPagerDuty();
});
afterEach(async () => {
  for (const am of running.splice(0)) await stopAlertmanager(am, 'SIGKILL');
  await pd.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function am(sub: string, opts: Parameters<typeof startAlertmanager>[2] = {}): Promise<RunningAlertmanager> {
  const d = path.join(dir, sub);
  fs.mkdirSync(d, { recursive: true });
  const a = await startAlertmanager(pd, d, opts);
  running.push(a);
  return a;
}

function notifier(
  urls: string[],
  client = loadClientConfigOrDefault(),
  lines: string[] = [],
): { n: Notifier; e: Exposition; lines: string[] } {
  const e = new Exposition();
  const n = new Notifier(
    {
      urls: urls.map(parseAlertmanagerUrl),
      client,
      instance: 'node-a',
      labels: { cluster: 'eu1' },
      resendMs: 1000,
      log: new Logger('info', (l) => lines.push(l)),
      exposition: e,
    },
    'test',
  );
  return { n, e, lines };
}
function loadClientConfigOrDefault(file?: string) {
  if (file) return loadClientConfig(file);
  fs.writeFileSync(path.join(dir, 'empty.yml'), '');
  return loadClientConfig(path.join(dir, 'empty.yml'));
}

withAm(
  "TLS with a client certificate and basic auth: the alert arrives with the rule's label set, endsAt ahead; the resolve ends it",
  async () => {
    const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=mountstorm-test-ca',
    );
    for (const [name, san] of [
      ['server', 'IP:127.0.0.1'],
      ['client', 'DNS:mountstorm'],
    ]) {
      ssl(
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${name}`,
      );
      fs.writeFileSync(
        path.join(dir, `${name}.ext`),
        `subjectAltName=${san}\nextendedKeyUsage=${name === 'server' ? 'serverAuth' : 'clientAuth'}\n`,
      );
      ssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      );
    }
    fs.writeFileSync(
      path.join(dir, 'am-web.yml'),
      `tls_server_config:\n  cert_file: ${dir}/server.crt\n  key_file: ${dir}/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${dir}/ca.crt\nbasic_auth_users:\n  mountstorm: '${bcrypt.hashSync('s3cret', 4)}'\n`,
    );
    const a = await am('tls', { webConfig: path.join(dir, 'am-web.yml') });
    fs.writeFileSync(path.join(dir, 'password'), 's3cret\n');
    fs.writeFileSync(
      path.join(dir, 'client.yml'),
      'timeout: 3s\ntls_config: {ca_file: ca.crt, cert_file: client.crt, key_file: client.key}\nbasic_auth: {username: mountstorm, password_file: password}\n',
    );
    const get = (): Promise<Awaited<ReturnType<typeof amAlerts>> | undefined> =>
      new Promise((resolve) => {
        const req = https.get(
          `${a.url}/api/v2/alerts`,
          {
            ca: fs.readFileSync(path.join(dir, 'ca.crt')),
            cert: fs.readFileSync(path.join(dir, 'client.crt')),
            key: fs.readFileSync(path.join(dir, 'client.key')),
            auth: 'mountstorm:s3cret',
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () =>
              resolve(res.statusCode === 200 ? (JSON.parse(body) as Awaited<ReturnType<typeof amAlerts>>) : undefined),
            );
          },
        );
        req.on('error', () => resolve(undefined));
      });
    await until(get, 'the TLS Alertmanager to answer');

    const { n, e } = notifier([a.url], loadClientConfig(path.join(dir, 'client.yml')));
    try {
      n.start();
      await until(
        async () => (sum(await metricsOf(e), 'mountstorm_alertmanager_up') === 1 ? true : undefined),
        'the heartbeat',
      );
      const sentAt = Date.now();
      n.update([firing()]);
      const alert = await until(
        async () => (await get())?.find((x) => x.labels.alertname === 'MountStormImminent'),
        'the alert in Alertmanager',
      );
      expect(alert.labels).toEqual({
        alertname: 'MountStormImminent',
        severity: 'critical',
        instance: 'node-a',
        cluster: 'eu1',
      });
      expect(alert.annotations).toEqual({ summary: 's', description: 'd', runbook_url: 'https://example.com/rb' });
      // Re-sent every 1 s with endsAt four intervals ahead, as Prometheus does.
      const ends = Date.parse(alert.endsAt);
      expect(ends).toBeGreaterThan(sentAt + 3000);
      expect(ends).toBeLessThanOrEqual(Date.now() + 4000 + 1000);
      const m = await metricsOf(e);
      expect(sum(m, 'mountstorm_alertmanager_notifications_total', { result: 'sent' })).toBeGreaterThanOrEqual(1);
      expect(sum(m, 'mountstorm_alertmanager_notifications_total', { result: 'failed' })).toBe(0);
      n.update([{ ...firing(), phase: 'inactive', resolvedAt: Date.now() }]);
      await until(
        async () =>
          (await get())?.some((x) => x.labels.alertname === 'MountStormImminent' && x.status.state === 'active')
            ? undefined
            : true,
        'the resolve',
      );
    } finally {
      n.close();
    }
  },
);

withAm(
  'an HA pair: both get the alert; one down and started again gets it after, while the alert lasts; the cause is logged once',
  async () => {
    const port = await freePort();
    const b = await am('b');
    const url = `http://127.0.0.1:${port}`;
    const { n, e, lines } = notifier([url, b.url]);
    try {
      n.start();
      const firedAt = Date.now();
      // Re-sent every second for as long as it fires, as the evaluator calls update() every sample.
      const ticker = setInterval(() => n.update([firing('MountStormImminent', firedAt)]), 1000);
      try {
        await until(
          async () => (await amAlerts(b.url)).find((x) => x.labels.alertname === 'MountStormImminent'),
          'the alert in the replica that is up',
        );
        // Two failed posts to the replica that is down: the second is not logged again.
        const failed = async () =>
          sum(await metricsOf(e), 'mountstorm_alertmanager_notifications_total', {
            alertmanager: `${url}/`,
            result: 'failed',
          });
        await until(
          async () => ((await failed()) >= 2 ? true : undefined),
          'two failed posts to the replica that is down',
        );
        const down = await metricsOf(e);
        expect(sum(down, 'mountstorm_alertmanager_up', { alertmanager: `${url}/` })).toBe(0);
        expect(
          sum(down, 'mountstorm_alertmanager_notifications_total', { alertmanager: `${url}/`, result: 'failed' }),
        ).toBeGreaterThan(0);
        expect(lines.filter((l) => l.includes('cannot notify Alertmanager') && l.includes(`${url}/`)).length).toBe(1);
        const a = await am('a', { port });
        const got = await until(
          async () => (await amAlerts(a.url)).find((x) => x.labels.alertname === 'MountStormImminent'),
          'the alert in the replica started again',
        );
        expect(Date.parse(got.startsAt)).toBe(firedAt);
        expect(lines.some((l) => l.includes('Alertmanager reachable again'))).toBe(true);
        await until(
          async () =>
            sum(await metricsOf(e), 'mountstorm_alertmanager_up', { alertmanager: `${url}/` }) === 1 ? true : undefined,
          'up again',
        );
      } finally {
        clearInterval(ticker);
      }
    } finally {
      n.close();
    }
  },
);

withAm('credentials Alertmanager refuses: failed, counted, logged once, retried; the queue stays bounded', async () => {
  fs.writeFileSync(path.join(dir, 'am-web.yml'), `basic_auth_users:\n  mountstorm: '${bcrypt.hashSync('right', 4)}'\n`);
  const a = await am('auth', { webConfig: path.join(dir, 'am-web.yml') });
  await until(
    async () =>
      (await fetch(`${a.url}/-/ready`).then(
        (r) => r.status,
        () => 0,
      )) === 401
        ? true
        : undefined,
    'the Alertmanager to answer',
  );
  fs.writeFileSync(path.join(dir, 'client.yml'), 'basic_auth: {username: mountstorm, password: wrong}\n');
  const { n, e, lines } = notifier([a.url], loadClientConfig(path.join(dir, 'client.yml')));
  try {
    for (let i = 0; i < 100; i++) n.update([firing(`MountStormTest${i}`)]);
    await until(
      async () =>
        sum(await metricsOf(e), 'mountstorm_alertmanager_notifications_total', { result: 'failed' }) > 0
          ? true
          : undefined,
      'a failed post',
    );
    // Retried with backoff: a second failed post.
    await until(
      async () =>
        sum(await metricsOf(e), 'mountstorm_alertmanager_notifications_total', { result: 'failed' }) >= 2
          ? true
          : undefined,
      'a retried post',
    );
    const m = await metricsOf(e);
    expect(sum(m, 'mountstorm_alertmanager_queue_length')).toBe(64);
    expect(sum(m, 'mountstorm_alertmanager_notifications_dropped_total')).toBe(36);
    expect(sum(m, 'mountstorm_alertmanager_up')).toBe(0);
    const logged = lines.filter((l) => l.includes('cannot notify Alertmanager'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/HTTP 401/);
  } finally {
    n.close();
  }
});

describe('mountstorm serve: Alertmanager flags and config as users get them wrong', () => {
  const serve = (args: string[]) =>
    spawnSync(process.execPath, [CLI, 'serve', '--web.listen-address=127.0.0.1:0', ...args], {
      encoding: 'utf8',
      timeout: 20_000,
    });

  test.each([
    [
      ['--alertmanager.url=ftp://am:9093'],
      /alertmanager\.url: must be http:\/\/ or https:\/\/ \(got "ftp:\/\/am:9093"\)$/m,
    ],
    [['--alertmanager.url=http://user:pw@am:9093'], /credentials go in --alertmanager\.config\.file/],
    [['--alertmanager.url=not a url'], /not a URL/],
    [['--alertmanager.url=http://am:9093', '--alertmanager.label=alertname=x'], /alertname is set by the alert itself/],
    [['--alertmanager.url=http://am:9093', '--alertmanager.label=no-equals'], /not name=value/],
    [['--alertmanager.resend-interval=10ms'], /between 1s and 10m/],
  ])('%j is refused at start', (args, why) => {
    const r = serve(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(why);
  });

  test('a broken --alertmanager.config.file stops the start, naming the file and the key', () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-amcfg-'));
    try {
      for (const [text, why] of [
        ['tls_config: {ca_file: missing.crt}\n', /tls_config\.ca_file: cannot read .*missing\.crt/],
        [
          'basic_auth: {username: u, password: p}\nauthorization: {credentials: t}\n',
          /at most one of basic_auth, authorization, bearer_token_file/,
        ],
        ['timeout: forever\n', /timeout must be a duration/],
        ['nope: 1\n', /unknown key "nope"/],
        ['a: [\n', /not valid YAML/],
      ] as const) {
        fs.writeFileSync(path.join(d, 'am.yml'), text);
        const r = serve(['--alertmanager.url=http://127.0.0.1:9', `--alertmanager.config.file=${d}/am.yml`]);
        expect(r.status).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`${d.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/am\\.yml: `));
        expect(r.stderr).toMatch(why);
      }
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  withAm('on reload a broken file keeps the settings in force; a good one replaces them', async () => {
    fs.writeFileSync(
      path.join(dir, 'am-web.yml'),
      `basic_auth_users:\n  mountstorm: '${bcrypt.hashSync('right', 4)}'\n`,
    );
    const a = await am('reload', { webConfig: path.join(dir, 'am-web.yml') });
    await until(
      async () =>
        (await fetch(`${a.url}/-/ready`).then(
          (r) => r.status,
          () => 0,
        )) === 401
          ? true
          : undefined,
      'the Alertmanager to answer',
    );
    const file = path.join(dir, 'client.yml');
    fs.writeFileSync(file, 'basic_auth: {username: mountstorm, password: right}\n');
    const exp = await startExporter([
      '--sample.interval=500ms',
      `--alertmanager.url=${a.url}`,
      `--alertmanager.config.file=${file}`,
      '--no-collector.tracefs',
      '--no-collector.probes',
    ]);
    try {
      await until(
        async () => (sum(await exp.metrics(), 'mountstorm_alertmanager_up') === 1 ? true : undefined),
        'the first heartbeat',
      );
      fs.writeFileSync(file, 'basic_auth: [broken\n');
      await until(
        () =>
          exp.logs().includes('alertmanager config reload failed; keeping the previous settings') ? true : undefined,
        'the failed reload',
      );
      expect(exp.logs()).toMatch(/client\.yml: not valid YAML/);
      fs.writeFileSync(file, 'basic_auth: {username: mountstorm, password: wrong}\ntimeout: 2s\n');
      await until(() => (exp.logs().includes('alertmanager config reloaded') ? true : undefined), 'the good reload');
      expect(sum(await exp.metrics(), 'mountstorm_alertmanager_up')).toBe(1); // the last request, made with the old settings
    } finally {
      await exp.stop('SIGTERM');
    }
  });
});
