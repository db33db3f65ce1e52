/** close() stops everything it started: the process then ends by itself and leaves no tracefs instance. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { FIXTURE_ARGS } from '../support/fixtures';

const HELPER = path.join(REPO, 'dist/test/support/serve-close.js');

function run(
  args: string[],
  wrap: string[] = [],
): { closeMs: number; left: string[]; tracefsInstances: string[] | null; status: number | null } {
  const [cmd, ...rest] = [...wrap, process.execPath, HELPER, '--web.listen-address=127.0.0.1:0', ...args];
  const r = spawnSync(cmd as string, rest, { encoding: 'utf8', timeout: 20_000 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
    closeMs: number;
    left: string[];
    tracefsInstances: string[] | null;
  };
  return { ...out, status: r.status };
}

test('with every watcher in use (web config, container task dirs): close() leaves nothing running', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-shutdown-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'web.yml'),
      "basic_auth_users: {prom: '$2b$10$RHHNaDrIj7BwzBfjxhuKa.S2boIGXMDP4Lmrk.wFVAEajM2HBb8Cu'}\n",
    );
    const r = run([...FIXTURE_ARGS, `--web.config.file=${dir}/web.yml`]);
    expect(r.status).toBe(0);
    expect(r.left).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

requireInCi(IS_ROOT, 'root for tracefs');
testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for tracefs')(
  'with tracefs (own mount namespace): close() removes the instance and unmounts the tracefs it mounted',
  () => {
    const r = run(
      ['--sample.interval=200ms', '--no-collector.containers', '--mount.pid=self'],
      ['unshare', '--mount', '--propagation', 'private'],
    );
    expect(r.status).toBe(0);
    expect(r.left).toEqual([]);
    // tracefs was not mounted in this namespace before, so the exporter mounted it and unmounted it on close.
    expect(r.tracefsInstances).toBeNull();
    // Instances are global: look from another private namespace that no exporter instance is left.
    const ls = spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-ec',
        'mount -t tracefs nodev /sys/kernel/tracing; ls /sys/kernel/tracing/instances',
      ],
      { encoding: 'utf8' },
    );
    expect(ls.status).toBe(0);
    expect(ls.stdout.split('\n').filter((n) => n.startsWith('mountstorm-'))).toEqual([]);
  },
);
