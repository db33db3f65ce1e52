/**
 * Every command from the production dependencies alone, as the image ships them: the package
 * installed with `npm ci --omit=dev` in a temporary copy holding only package.json, the lock file
 * and the build's dist/src (the Dockerfile's runtime stage), then --help, render-alerts,
 * render-dashboards, doctor, storm and serve run from there. A command that imports a dev
 * dependency at load, or on its own path, fails here as it would crash-loop a DaemonSet.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { startExporter } from '../support/exporter';

requireInCi(IS_ROOT, 'root for the storm drill from the production install');

let dir: string;
let cli: string;

function run(args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd: dir, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-production-'));
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(REPO, f), path.join(dir, f));
  fs.cpSync(path.join(REPO, 'dist/src'), path.join(dir, 'dist/src'), { recursive: true });
  // The cache that set-up's `npm ci` filled serves every package; the registry only where it does not.
  await new Promise<void>((resolve, reject) =>
    execFile(
      'npm',
      ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
      { cwd: dir, timeout: 240_000 },
      (err, _o, stderr) => (err ? reject(new Error(`npm ci --omit=dev: ${err.message}\n${stderr}`)) : resolve()),
    ),
  );
  cli = path.join(dir, 'dist/src/cli.js');
}, 300_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the copy holds the production dependencies only', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  for (const dep of Object.keys(pkg.dependencies))
    expect(fs.existsSync(path.join(dir, 'node_modules', dep))).toBe(true);
  for (const dev of Object.keys(pkg.devDependencies))
    expect({ dev, installed: fs.existsSync(path.join(dir, 'node_modules', dev)) }).toEqual({ dev, installed: false });
});

test('--help and --version', async () => {
  const help = await run(['--help']);
  expect(help).toMatchObject({ code: 0 });
  expect(help.stdout).toContain('usage: mountstorm');
  expect(help.stdout).toContain('--collector.tracefs');
  const version = await run(['--version']);
  expect(version.code).toBe(0);
  expect(version.stdout).toMatch(/^mountstorm \d+\.\d+\.\d+/);
});

test('render-alerts renders the shipped rules; render-dashboards the shipped dashboards', async () => {
  const rules = await run(['render-alerts']);
  expect(rules.code).toBe(0);
  expect(rules.stdout).toBe(fs.readFileSync(path.join(REPO, 'alerts/mountstorm.rules.yaml'), 'utf8'));
  const out = fs.mkdtempSync(path.join(dir, 'dashboards-'));
  expect(await run(['render-dashboards', `--output-dir=${out}`])).toMatchObject({ code: 0 });
  for (const name of fs.readdirSync(path.join(REPO, 'grafana')).filter((n) => n.endsWith('.json'))) {
    expect(fs.readFileSync(path.join(out, name), 'utf8')).toBe(
      fs.readFileSync(path.join(REPO, 'grafana', name), 'utf8'),
    );
  }
});

test('doctor diagnoses this host', async () => {
  const d = await run(['doctor'], 120_000);
  expect(d.stderr).toBe('');
  expect(d.code).toBe(0);
  expect(d.stdout).toMatch(/^mountstorm doctor — risk: /);
});

testIf(IS_ROOT, 'needs root: the drill mounts in a private namespace of its own')('storm runs a drill', async () => {
  const s = await run(['storm', '--containers=4', '--layers=3', '--concurrency=2', '--json', '--no-progress'], 120_000);
  expect(s.code).toBe(0);
  const report = JSON.parse(s.stdout) as { containers: number; mode: string };
  expect(report).toMatchObject({ containers: 4, mode: 'per-layer-idmap' });
});

test('serve answers /metrics and /healthz, and stops on SIGTERM', async () => {
  // As root, in a mount namespace of its own: the tracefs it mounts where none is must never reach the host's table.
  const exp = await startExporter([], { cli, ownMountNamespace: IS_ROOT });
  try {
    const metrics = await (await fetch(`${exp.url}/metrics`)).text();
    expect(metrics).toMatch(/^mountstorm_build_info\{/m);
    expect(metrics).toMatch(/^mountstorm_mount_table_entries /m);
    expect((await fetch(`${exp.url}/healthz`)).status).toBe(200);
  } finally {
    expect(await exp.stop('SIGTERM')).toBe(0);
  }
  expect(exp.logs()).not.toMatch(/Cannot find module|level=error/);
});
