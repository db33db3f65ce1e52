/**
 * The tracefs collector against the real kernel. Exporters run in their own mount and PID
 * namespaces (each mounts tracefs there, privately); tracefs instances are global, so the test
 * lists them through the first exporter's namespace.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StormReport } from '../../src/storm/report';
import { CLI, IS_ROOT, REPO, hasCommand, requireInCi, testIf } from '../support/env';
import { startExporter, type RunningExporter } from '../support/exporter';
import { has, sum, total, type Sample } from '../support/metrics';

requireInCi(IS_ROOT, 'root for tracefs and real mounts');
const rootTest = testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for tracefs and real mounts');
// Recording from the start: these tests count exactly what they make (on-demand arming has tests of its own).
const BASE_ARGS = [
  '--sample.interval=200ms',
  '--no-collector.containers',
  '--no-collector.namespaces',
  '--collector.tracefs.mode=always',
  '--collector.tracefs.readers',
];

describe.each(['raw', 'text'] as const)('tracefs collector, real kernel, reading %s', (format) => {
  const ARGS = [...BASE_ARGS, `--collector.tracefs.format=${format}`];
  let exp: RunningExporter;
  let dir: string;
  const instances = () =>
    execFileSync('nsenter', ['-t', String(exp.pid), '-m', '--', 'ls', '/sys/kernel/tracing/instances'], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter((n) => n.startsWith('mountstorm-'));
  const delta = (a: Sample[], b: Sample[], name: string, labels?: Record<string, string>) =>
    total(b, name, labels) - total(a, name, labels);

  beforeAll(async () => {
    if (!IS_ROOT) return;
    dir = fs.mkdtempSync('/tmp/mountstorm-tracefs-');
    exp = await startExporter(ARGS, { privateNamespaces: true });
    await exp.waitSamples(2);
  });
  afterAll(async () => {
    if (!IS_ROOT) return;
    await exp.stop('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  rootTest('the exporter traces through its own instance', async () => {
    const m = await exp.metrics();
    expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'tracefs' })).toBe(1);
    expect(instances().length).toBeGreaterThanOrEqual(1);
    expect(exp.logs()).toMatch(
      new RegExp(
        `msg="tracefs: tracing mount syscalls" instance=/sys/kernel/tracing/instances/mountstorm-1 format=${format} `,
      ),
    );
    expect(exp.logs()).not.toMatch(/reading trace_pipe text, which costs/);
  });

  rootTest('a helper making exactly K mounts and K umounts: counts and histogram rise by exactly K', async () => {
    const K = 37;
    // A symlink gives the helper its own comm, so its syscalls are told apart from anything else's.
    const helper = path.join(dir, 'ms-k-helper');
    fs.symlinkSync(process.execPath, helper);
    fs.mkdirSync(path.join(dir, 'k'));
    const before = await exp.waitSamples(1);
    // Into the exporter's private mount namespace (setns is not a mount), so nothing else mounts.
    execFileSync('nsenter', [
      '-t',
      String(exp.pid),
      '-m',
      '--',
      helper,
      path.join(REPO, 'dist/test/support/mount-k.js'),
      path.join(dir, 'k'),
      String(K),
    ]);
    const after = await exp.waitSamples(3);
    // nsenter's setns(CLONE_NEWNS) before it exec'd the helper counts too, as nsenter's: in either
    // format each call is named from the fork and exec events, as the task was called when it made it
    // (the kernel's comm cache, which trace_pipe prints, may name it the helper or this test process).
    expect(delta(before, after, 'mountstorm_mount_syscalls_total', { syscall: 'setns' })).toBe(1);
    const by = (comm: string) => delta(before, after, 'mountstorm_mount_syscalls_by_process_total', { comm });
    expect(by('ms-k-helper')).toBe(2 * K);
    expect(by('nsenter')).toBe(1);
    expect(delta(before, after, 'mountstorm_mount_syscalls_total', { syscall: 'mount' })).toBe(K);
    expect(delta(before, after, 'mountstorm_mount_syscalls_total', { syscall: 'umount' })).toBe(K);
    // Each tmpfs mount made one new mount; the umounts and the setns none.
    expect(delta(before, after, 'mountstorm_mounts_created_total')).toBe(K);
    expect(delta(before, after, 'mountstorm_mount_syscall_duration_seconds_count', { syscall: 'mount' })).toBe(K);
    expect(delta(before, after, 'mountstorm_mount_syscall_duration_seconds_count', { syscall: 'umount' })).toBe(K);
    expect(delta(before, after, 'mountstorm_mount_syscall_duration_seconds_sum', { syscall: 'mount' })).toBeGreaterThan(
      0,
    );
    expect(delta(before, after, 'mountstorm_mount_syscall_errors_total')).toBe(0);
    expect(total(after, 'mountstorm_trace_events_lost_total')).toBe(0);
  });

  rootTest(
    "a reader opening mount table files K times: K opens by its name, each path's; other files none",
    async () => {
      const K = 23;
      const helper = path.join(dir, 'ms-reader');
      fs.symlinkSync(process.execPath, helper);
      const before = await exp.waitSamples(1);
      const script = `const fs = require('fs');
for (let i = 0; i < ${K}; i++) for (const f of ['/proc/self/mountinfo', '/proc/mounts', '/proc/self/status', '/proc/self/mountstats'])
  fs.closeSync(fs.openSync(f, 'r'));`;
      execFileSync(helper, ['-e', script]);
      const after = await exp.waitSamples(3);
      // mountinfo and mounts, K each; status and mountstats (a path ending in neither) not at all. By
      // its name from its exec, in either format: trace_pipe's own name for this short-lived task comes
      // from the kernel's comm cache, which may have missed it ("<...>").
      const opens = (comm: string) => delta(before, after, 'mountstorm_mount_table_opens_by_process_total', { comm });
      expect(opens('ms-reader')).toBe(2 * K);
      expect(delta(before, after, 'mountstorm_mount_syscalls_by_process_total', { comm: 'ms-reader' })).toBe(0);
      expect(total(after, 'mountstorm_trace_events_lost_total')).toBe(0);
    },
  );

  rootTest('failed syscalls are counted by errno', async () => {
    const before = await exp.waitSamples(1);
    spawnSync('nsenter', ['-t', String(exp.pid), '-m', '--', 'umount', dir]); // not a mount point: EINVAL
    const after = await exp.waitSamples(3);
    expect(
      delta(before, after, 'mountstorm_mount_syscall_errors_total', { syscall: 'umount', errno: 'EINVAL' }),
    ).toBeGreaterThanOrEqual(1);
  });

  rootTest('a concurrent mountstorm storm: exact new-API counts and lock wait measured', async () => {
    const before = await exp.waitSamples(1);
    const r = JSON.parse(
      execFileSync(process.execPath, [CLI, 'storm', '--json', '--containers=30', '--layers=20', '--concurrency=8'], {
        encoding: 'utf8',
      }),
    ) as StormReport;
    const after = await exp.waitSamples(3);
    // Only the storm uses the new mount API here, so these match its own accounting exactly, plus
    // the one open_tree + mount_setattr with which it checks that idmapped mounts work.
    expect(delta(before, after, 'mountstorm_mount_syscalls_total', { syscall: 'open_tree' })).toBe(
      r.syscalls.open_tree + 1,
    );
    expect(delta(before, after, 'mountstorm_mount_syscalls_total', { syscall: 'mount_setattr' })).toBe(
      r.syscalls.mount_setattr + 1,
    );
    expect(delta(before, after, 'mountstorm_mount_syscalls_total', { syscall: 'move_mount' })).toBe(
      r.syscalls.move_mount,
    );
    expect(delta(before, after, 'mountstorm_mount_syscalls_total', { syscall: 'umount' })).toBeGreaterThanOrEqual(
      r.syscalls.umount2,
    );
    const wait = delta(before, after, 'mountstorm_mount_lock_wait_seconds_total');
    console.log(
      `storm: ${r.operations} operations in ${r.wallSeconds.toFixed(2)} s; lock wait inside mount syscalls ${(wait * 1e3).toFixed(1)} ms`,
    );
    expect(wait).toBeGreaterThan(0);
  });

  rootTest('kill -9 leaves the instance behind; the next exporter removes it; SIGTERM removes its own', async () => {
    const instanceOf = (e: RunningExporter) =>
      /tracing mount syscalls" instance=\/sys\/kernel\/tracing\/instances\/(\S+)/.exec(e.logs())?.[1];
    const start = instances();
    const b = await startExporter(ARGS, { privateNamespaces: true });
    await b.waitSamples(2);
    const bName = instanceOf(b) as string;
    expect(instances().sort()).toEqual([...start, bName].sort());
    await b.stop('SIGKILL');
    expect(instances()).toContain(bName);

    const c = await startExporter(ARGS, { privateNamespaces: true });
    await c.waitSamples(2);
    expect(c.logs()).toContain(`removed a stale instance left by an exporter that is gone" instance=${bName}`);
    // The live exporter's instance is left alone; C has exactly one of its own.
    expect(instances().sort()).toEqual([...start, instanceOf(c) as string].sort());
    expect(await c.stop('SIGTERM')).toBe(0);
    expect(instances().sort()).toEqual([...start].sort());
  });
});

rootTest('raw pages and text, read side by side by two exporters, count the same storm the same', async () => {
  const start = (f: string) =>
    startExporter([...BASE_ARGS, `--collector.tracefs.format=${f}`], { privateNamespaces: true });
  const [raw, text] = await Promise.all([start('raw'), start('text')]);
  try {
    // Each mounts tracefs in its own namespace as it starts its trace, and proc with it: mounts the
    // other one counts if its own trace is already on. So both trace first, then a drain (100 ms)
    // and a sample go by before the counts are taken.
    const tracing = /tracing mount syscalls" instance=/;
    while (!tracing.test(raw.logs()) || !tracing.test(text.logs()))
      await Promise.all([raw.waitSamples(1), text.waitSamples(1)]);
    const [rawBefore, textBefore] = await Promise.all([raw.waitSamples(2), text.waitSamples(2)]);
    // Started together: neither took the other's half-made instance for a dead exporter's.
    expect(raw.logs()).toMatch(/tracing mount syscalls" instance=\S+ format=raw/);
    expect(text.logs()).toMatch(/tracing mount syscalls" instance=\S+ format=text/);
    execFileSync(process.execPath, [CLI, 'storm', '--json', '--containers=20', '--layers=10', '--concurrency=4'], {
      encoding: 'utf8',
    });
    const [rawAfter, textAfter] = await Promise.all([raw.waitSamples(3), text.waitSamples(3)]);
    const d = (a: Sample[], b: Sample[], name: string, labels?: Record<string, string>) =>
      (has(b, name, labels) ? sum(b, name, labels) : 0) - (has(a, name, labels) ? sum(a, name, labels) : 0);
    for (const syscall of ['open_tree', 'move_mount', 'mount_setattr']) {
      const n = d(rawBefore, rawAfter, 'mountstorm_mount_syscalls_total', { syscall });
      expect(n).toBeGreaterThan(0);
      expect(n).toBe(d(textBefore, textAfter, 'mountstorm_mount_syscalls_total', { syscall }));
      expect(d(rawBefore, rawAfter, 'mountstorm_mount_syscall_duration_seconds_count', { syscall })).toBe(
        d(textBefore, textAfter, 'mountstorm_mount_syscall_duration_seconds_count', { syscall }),
      );
      const rawSum = d(rawBefore, rawAfter, 'mountstorm_mount_syscall_duration_seconds_sum', { syscall });
      const textSum = d(textBefore, textAfter, 'mountstorm_mount_syscall_duration_seconds_sum', { syscall });
      // One clock, two reads per event (one per instance): microseconds apart, never more per call.
      expect(Math.abs(rawSum - textSum)).toBeLessThan(n * 20e-6 + 0.01 * textSum);
    }
    // The new mounts, from each entry's flags as each format carries them: the same count.
    const made = d(rawBefore, rawAfter, 'mountstorm_mounts_created_total');
    expect(made).toBeGreaterThanOrEqual(20 * 10);
    expect(made).toBe(d(textBefore, textAfter, 'mountstorm_mounts_created_total'));
    expect(sum(rawAfter, 'mountstorm_trace_parse_errors_total')).toBe(0);
    expect(sum(rawAfter, 'mountstorm_trace_events_lost_total')).toBe(0);
  } finally {
    await Promise.all([raw.stop('SIGTERM'), text.stop('SIGTERM')]);
  }
});

rootTest(
  'eight exporters creating their instances at once, each as PID 1 of its namespace: all get one, none loses it to another',
  async () => {
    // Every process asks for the same first name (mountstorm-1) and removes what looks stale first:
    // without taking turns, one removes another's instance between its mkdir and its pin.
    const lib = (m: string) => JSON.stringify(path.join(REPO, 'dist/src', m));
    const script = `
    const { TraceInstance } = require(${lib('sources/tracefs/instance')});
    const { locateTracefs } = require(${lib('sources/tracefs/locate')});
    const { HostPaths } = require(${lib('fs/paths')});
    const at = Number(process.argv[1]); while (Date.now() < at);
    try {
      const inst = TraceInstance.create(locateTracefs(new HostPaths(), undefined), { bufferSizeKb: 64, format: 'raw' }, { removedStale() {}, warn() {} });
      process.stdout.write('ok ' + inst.name);
      setTimeout(() => { inst.remove(); process.exit(0); }, 500);
    } catch (err) { process.stdout.write('failed ' + err.message); process.exit(1); }`;
    // All start at the same instant (a time a second ahead, passed to each).
    const once = (at: number) =>
      new Promise<string>((resolve) => {
        const p = spawn(
          'unshare',
          [
            '--mount',
            '--pid',
            '--fork',
            '--kill-child',
            '--propagation',
            'private',
            '--mount-proc',
            process.execPath,
            '-e',
            script,
            String(at),
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.on('exit', () => resolve(out));
      });
    for (let round = 0; round < 3; round++) {
      const at = Date.now() + 1000;
      const outs = await Promise.all(Array.from({ length: 8 }, () => once(at)));
      expect(outs.filter((o) => !o.startsWith('ok '))).toEqual([]);
      expect(new Set(outs).size).toBe(8);
    }
  },
);

rootTest(
  'out of buffer: a 16 KiB ring under a storm loses events, counted in trace_events_lost_total; the exporter stays healthy',
  async () => {
    const small = await startExporter([...BASE_ARGS, '--collector.tracefs.buffer-size=16'], {
      privateNamespaces: true,
    });
    try {
      await small.waitSamples(2);
      execFileSync(process.execPath, [CLI, 'storm', '--json', '--containers=60', '--layers=30', '--concurrency=8'], {
        encoding: 'utf8',
      });
      const m = await small.waitSamples(3);
      expect(sum(m, 'mountstorm_trace_events_lost_total')).toBeGreaterThan(0);
      expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'tracefs' })).toBe(1);
      expect(sum(m, 'mountstorm_mount_syscalls_total')).toBeGreaterThan(0);
      expect((await fetch(`${small.url}/healthz`)).status).toBe(200);
    } finally {
      await small.stop('SIGTERM');
    }
  },
);

describe('tracefs unavailable', () => {
  requireInCi(hasCommand('setpriv'), 'setpriv (util-linux)');
  testIf(IS_ROOT && hasCommand('setpriv'), 'needs root to drop to an unprivileged user')(
    'without privileges: no data, logged once, the exporter healthy',
    async () => {
      const exp = await startExporter(['--sample.interval=100ms', '--no-collector.containers'], {
        unprivileged: true,
      });
      try {
        const m = await exp.waitSamples(5);
        expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'tracefs' })).toBe(1);
        expect(m.some((s) => s.name.startsWith('mountstorm_mount_syscall'))).toBe(false);
        expect(sum(m, 'mountstorm_mounts')).toBeGreaterThan(0);
        expect(exp.logs().match(/tracefs collector has no data/g)).toHaveLength(1);
        expect((await fetch(`${exp.url}/healthz`)).status).toBe(200);
      } finally {
        await exp.stop();
      }
    },
  );

  test('a sysfs that is not the kernel’s (fixture tree): no data, nothing mounted', async () => {
    const exp = await startExporter([
      `--path.sysfs=${path.join(REPO, 'test/fixtures/sys')}`,
      '--sample.interval=100ms',
      '--no-collector.containers',
    ]);
    try {
      await exp.waitSamples(3);
      expect(exp.logs()).toMatch(
        /tracefs collector has no data" reason="no tracefs at .*test\/fixtures\/sys\/kernel\/tracing/,
      );
      expect(fs.existsSync(path.join(REPO, 'test/fixtures/sys/kernel/tracing'))).toBe(false);
    } finally {
      await exp.stop();
    }
  });
});
