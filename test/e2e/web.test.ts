/**
 * TLS and basic auth from an exporter-toolkit web config file, served: a real Prometheus scraping
 * over TLS with basic auth, wrong credentials getting 401, and re-reading the file on change.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { hasCommand, requireInCi, testIf } from '../support/env';
import { startExporter, type RunningExporter } from '../support/exporter';
import { FIXTURE_ARGS } from '../support/fixtures';
import { makeCerts } from '../support/certs';
import { startPrometheus } from '../support/prometheus';

requireInCi(hasCommand('openssl'), 'openssl');
const HASH = bcrypt.hashSync('s3cret', 10);

function get(
  url: string,
  ca: Buffer,
  auth?: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown>; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      { ca, headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            serial: (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber,
          }),
        );
      },
    );
    req.on('error', reject);
  });
}

describe('TLS + basic auth, served and scraped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-tls-'));
  let exp: RunningExporter;
  let url: string;
  let ca: Buffer;
  const webFile = path.join(dir, 'web.yml');
  const writeWeb = (users: Record<string, string>) =>
    fs.writeFileSync(
      webFile,
      `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n${Object.entries(users)
        .map(([u, h]) => `  ${u}: '${h}'`)
        .join('\n')}\n`,
    );

  beforeAll(async () => {
    if (!hasCommand('openssl')) return;
    makeCerts(dir);
    ca = fs.readFileSync(path.join(dir, 'ca.crt'));
    writeWeb({ prom: HASH });
    exp = await startExporter([...FIXTURE_ARGS, `--web.config.file=${webFile}`]);
    url = exp.url.replace('http://', 'https://');
  });
  afterAll(async () => {
    await exp?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const withOpenssl = testIf(hasCommand('openssl'), 'openssl not installed');

  withOpenssl(
    'right credentials 200; wrong, unknown or none 401 with a challenge; /healthz open; plain HTTP refused',
    async () => {
      expect((await get(`${url}/metrics`, ca, 'prom:s3cret')).body).toContain('mountstorm_build_info');
      for (const auth of ['prom:wrong', 'eve:s3cret', undefined, 'prom']) {
        const r = await get(`${url}/metrics`, ca, auth);
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toMatch(/^Basic realm="mountstorm"/);
      }
      expect((await get(`${url}/`, ca)).status).toBe(401);
      expect((await get(`${url}/healthz`, ca)).status).toBe(200);
      await expect(fetch(`${exp.url}/metrics`)).rejects.toThrow();
    },
  );

  requireInCi(hasCommand('prometheus'), 'prometheus');
  testIf(hasCommand('prometheus') && hasCommand('openssl'), 'needs prometheus and openssl')(
    'the real Prometheus scrapes over TLS with basic auth; with a wrong password it gets 401',
    async () => {
      const promDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-tls-prom-'));
      const target = exp.url.replace('http://', '');
      const tls = { ca_file: path.join(dir, 'ca.crt') };
      const prom = await startPrometheus({
        dir: promDir,
        targets: [target],
        scrapeInterval: '1s',
        scrape: { scheme: 'https', tls_config: tls, basic_auth: { username: 'prom', password: 's3cret' } },
        extraJobs: [
          {
            job_name: 'wrong-password',
            scheme: 'https',
            tls_config: tls,
            basic_auth: { username: 'prom', password: 'nope' },
            static_configs: [{ targets: [target] }],
          },
        ],
      });
      try {
        const deadline = Date.now() + 20_000;
        let ok: unknown[] = [];
        let bad: { value: [number, string] }[] = [];
        while (Date.now() < deadline) {
          ok = await prom.query('up{job="mountstorm"} == 1 and on (instance) mountstorm_build_info');
          bad = await prom.query('up{job="wrong-password"}');
          if (ok.length > 0 && bad.length > 0) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        expect(ok).toHaveLength(1);
        expect(bad.map((s) => s.value[1])).toEqual(['0']);
        const targets = (await (await fetch(`${prom.url}/api/v1/targets`)).json()) as {
          data: { activeTargets: { labels: { job: string }; lastError: string }[] };
        };
        expect(targets.data.activeTargets.find((t) => t.labels.job === 'wrong-password')?.lastError).toMatch(/401/);
      } finally {
        await prom.stop();
        fs.rmSync(promDir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  withOpenssl(
    're-read on change: new users apply, a broken file keeps the old settings, a rotated certificate is served',
    async () => {
      const until = async (f: () => Promise<boolean>) => {
        const end = Date.now() + 10_000;
        while (!(await f())) {
          if (Date.now() > end) throw new Error('not within 10 s');
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      writeWeb({ grafana: bcrypt.hashSync('other', 10) });
      await until(async () => (await get(`${url}/metrics`, ca, 'grafana:other')).status === 200);
      expect((await get(`${url}/metrics`, ca, 'prom:s3cret')).status).toBe(401);

      fs.writeFileSync(webFile, 'basic_auth_users: {grafana: plain-text}\n');
      await until(() => Promise.resolve(/web config reload failed; keeping the previous settings/.test(exp.logs())));
      expect((await get(`${url}/metrics`, ca, 'grafana:other')).status).toBe(200);

      writeWeb({ grafana: bcrypt.hashSync('other', 10) });
      const before = (await get(`${url}/healthz`, ca)).serial;
      makeCerts(dir); // same CA, new key and certificate
      await until(async () => (await get(`${url}/healthz`, ca)).serial !== before);
      expect(exp.logs().match(/level=error/g)?.length ?? 0).toBe(1);
    },
  );
});
