/** `mountstorm storm` against the real kernel. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasCapSysAdmin } from '../../src/kernel/capabilities';
import { MODES, operationsPerContainer, SYSCALLS } from '../../src/storm/plan';
import { syscallsPerContainer } from '../support/storm-formulas';
import type { Comparison, StormReport } from '../../src/storm/report';
import { asNobody, CLI, IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';

requireInCi(IS_ROOT, 'root for real mounts');
const rootTest = testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) to mount');

function storm(args: string[]): StormReport & Comparison {
  return JSON.parse(
    execFileSync(process.execPath, [CLI, 'storm', '--json', ...args], { encoding: 'utf8' }),
  ) as StormReport & Comparison;
}

/** Mounts the storm made (its tmpfs is named mountstorm-storm) still visible in any mount namespace. */
function leftoverStormMounts(): string[] {
  const out: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n'))
        if (line.includes('mountstorm-storm')) out.push(`${pid}: ${line}`);
    } catch {
      // exited, or not ours to read
    }
  }
  return out;
}

describe('mountstorm storm', () => {
  for (const mode of MODES)
    rootTest(`${mode}: operation and syscall counts equal the mode formula exactly`, () => {
      const containers = 3;
      const layers = 5;
      const cpus = 8; // per-cpu-masks only
      const r = storm([
        `--mode=${mode}`,
        `--containers=${containers}`,
        `--layers=${layers}`,
        `--cpus=${cpus}`,
        '--concurrency=2',
      ]);
      expect(r.containers).toBe(containers);
      expect(r.operations).toBe(containers * operationsPerContainer(mode, layers, cpus));
      const want = syscallsPerContainer(mode, layers, cpus);
      for (const s of SYSCALLS) expect(r.syscalls[s]).toBe(containers * want[s]);
      expect(r.teardownUmounts).toBe((mode === 'per-cpu-masks' ? 1 : mode === 'namespace-copy' ? 0 : 2) * containers);
      // This kernel (6.3+) idmaps tmpfs: the layers stay on the drill's own (older ones: test/guest/).
      expect(r.layerStore).toBe('tmpfs');
      expect(leftoverStormMounts()).toEqual([]);
    });

  test('the formulas: 2 × (1 + 2·layers) per container before the fix, 6 after', () => {
    expect(operationsPerContainer('per-layer-idmap', 50)).toBe(202);
    expect(operationsPerContainer('bind-per-layer', 50)).toBe(202);
    expect(operationsPerContainer('common-parent-idmap', 50)).toBe(6);
    expect(100 * operationsPerContainer('per-layer-idmap', 50)).toBe(20200);
    // The 2026 storm grows with the host, not the image: the runtime's 11 default masks and one per CPU.
    expect(operationsPerContainer('per-cpu-masks', 50, 96)).toBe(1 + 11 + 96);
    expect(operationsPerContainer('per-cpu-masks', 1, 192)).toBe(1 + 11 + 192);
    // A namespace copy is one unshare whatever it copies: its cost is the table's size.
    expect(operationsPerContainer('namespace-copy', 50)).toBe(1);
  });

  rootTest('common-parent-idmap does O(1) operations per container whatever the layer count', () => {
    const few = storm(['--mode=common-parent-idmap', '--containers=4', '--layers=2', '--concurrency=1']);
    const many = storm(['--mode=common-parent-idmap', '--containers=4', '--layers=60', '--concurrency=1']);
    expect(few.operations / few.containers).toBe(6);
    expect(many.operations / many.containers).toBe(6);
    const perLayer = storm(['--mode=per-layer-idmap', '--containers=4', '--layers=60', '--concurrency=1']);
    expect(perLayer.operations / perLayer.containers).toBe(2 * (1 + 2 * 60));
  });

  rootTest('latency percentiles are present and ordered; container start times reported', () => {
    const r = storm(['--containers=20', '--layers=10', '--concurrency=4']);
    // Every syscall the mode makes (per-layer-idmap, the default) has its percentiles.
    const made = SYSCALLS.filter((s) => syscallsPerContainer('per-layer-idmap', 10)[s] > 0);
    expect(made).toEqual(['open_tree', 'mount_setattr', 'move_mount', 'mount', 'umount2']);
    for (const s of made) {
      const p = r.latency[s];
      expect(p).toBeDefined();
      if (!p) continue;
      expect(p.count).toBe(r.syscalls[s]);
      expect(p.p50).toBeGreaterThan(0);
      expect(p.p50).toBeLessThanOrEqual(p.p99);
      expect(p.p99).toBeLessThanOrEqual(p.max);
    }
    expect(r.containerStart.count).toBe(20);
    expect(r.containerStart.p50).toBeLessThanOrEqual(r.containerStart.p99);
    expect(r.operationsPerSecond).toBeGreaterThan(0);
    expect(r.wallSeconds).toBeGreaterThan(0);
  });

  rootTest('--compare runs both modes on the same workload and gives the ratio', () => {
    const c = storm(['--containers=10', '--layers=20', '--concurrency=2', '--compare=common-parent-idmap']);
    expect(c.baseline.mode).toBe('per-layer-idmap');
    expect(c.candidate.mode).toBe('common-parent-idmap');
    expect(c.ratios.operationsPerContainer).toBeCloseTo(6 / 82, 6);
    expect(c.ratios.wallSeconds).toBeCloseTo(c.candidate.wallSeconds / c.baseline.wallSeconds, 6);
  });

  rootTest('--duration sustains the storm and --hold keeps rootfs mounts until their hold ends', () => {
    const t = Date.now();
    const r = storm(['--duration=1500ms', '--hold=1s', '--layers=3', '--concurrency=2']);
    expect(Date.now() - t).toBeGreaterThanOrEqual(2400);
    expect(r.containers).toBeGreaterThan(10);
    expect(r.operations).toBe(r.containers * operationsPerContainer('per-layer-idmap', 3));
    expect(r.teardownUmounts).toBe(2 * r.containers);
    expect(leftoverStormMounts()).toEqual([]);
  });

  rootTest(
    "--json-progress: a JSON line every 200 ms on stderr, on the caller's monotonic clock, counting up to the report",
    () => {
      const before = Number(process.hrtime.bigint()) / 1e9;
      const r = spawnSync(
        process.execPath,
        [CLI, 'storm', '--json', '--json-progress', '--duration=1500ms', '--layers=3', '--concurrency=2'],
        { encoding: 'utf8' },
      );
      const after = Number(process.hrtime.bigint()) / 1e9;
      expect(r.status).toBe(0);
      const report = JSON.parse(r.stdout) as StormReport;
      const lines = r.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { done: number; elapsed: number; monotonic: number });
      expect(lines.length).toBeGreaterThanOrEqual(5);
      for (const [i, l] of lines.entries()) {
        expect(Object.keys(l).sort()).toEqual(['done', 'elapsed', 'monotonic']);
        expect(l.monotonic).toBeGreaterThan(before);
        expect(l.monotonic).toBeLessThan(after);
        expect(l.done).toBeLessThanOrEqual(report.containers);
        const prev = lines[i - 1];
        if (!prev) continue;
        expect(l.done).toBeGreaterThanOrEqual(prev.done);
        // elapsed and monotonic are read together: their steps agree.
        expect(l.monotonic - prev.monotonic).toBeCloseTo(l.elapsed - prev.elapsed, 6);
        expect(l.elapsed - prev.elapsed).toBeGreaterThan(0.1);
      }
      expect(lines[lines.length - 1]?.done).toBeGreaterThan(0);
    },
  );

  rootTest('SIGKILL mid-run: no mount of the storm remains in any namespace, no process survives', async () => {
    const proc = spawn(
      process.execPath,
      [CLI, 'storm', '--duration=30s', '--hold=10s', '--layers=20', '--concurrency=2'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!/[1-9]\d* containers/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(leftoverStormMounts().length).toBeGreaterThan(0); // it really is mid-storm
    proc.kill('SIGKILL');
    const gone = Date.now() + 10_000;
    const stormDirs = () => fs.readdirSync('/tmp').filter((d) => d.startsWith('mountstorm-storm-'));
    while ((leftoverStormMounts().length > 0 || pgrepStorm() || stormDirs().length > 0) && Date.now() < gone)
      await new Promise((r) => setTimeout(r, 100));
    expect(leftoverStormMounts()).toEqual([]);
    expect(pgrepStorm()).toBe(false);
    // What is left, with its contents, if anything is (CI once saw the directory right after the exit).
    const contents = (d: string) => {
      try {
        return fs.readdirSync(path.join('/tmp', d)).join(' ');
      } catch {
        return '(gone while listed)';
      }
    };
    expect(stormDirs().map((d) => `${d}: ${contents(d)}`)).toEqual([]);
  });

  requireInCi(hasCommand('setpriv'), 'setpriv (util-linux)');
  testIf(IS_ROOT && hasCommand('setpriv'), 'needs root to drop to an unprivileged user')(
    'without CAP_SYS_ADMIN: a clear error naming what is needed, exit 2',
    () => {
      const [cmd, ...args] = asNobody([process.execPath, CLI, 'storm']);
      const r = spawnSync(cmd as string, args, { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(
        'mountstorm: mountstorm storm needs CAP_SYS_ADMIN to make mounts (run it as root); no mode can run without it\n',
      );
    },
  );

  test('CAP_SYS_ADMIN detection from /proc/self/status', () => {
    expect(hasCapSysAdmin('CapEff:\t000001ffffffffff\n')).toBe(true);
    expect(hasCapSysAdmin('CapEff:\t0000000000000000\n')).toBe(false);
    expect(hasCapSysAdmin('CapEff:\t0000000000200000\n')).toBe(true);
  });

  test('bad flags are clear errors', () => {
    const r = spawnSync(process.execPath, [CLI, 'storm', '--mode=sideways'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mode: must be one of per-layer-idmap, common-parent-idmap, bind-per-layer/);
    expect(spawnSync(process.execPath, [CLI, 'storm', '--layers=500'], { encoding: 'utf8' }).stderr).toMatch(
      /layers: must be between 1 and 128/,
    );
  });
});

function pgrepStorm(): boolean {
  return spawnSync('pgrep', ['-f', 'dist/src/storm/child.js'], { encoding: 'utf8' }).status === 0;
}
