/**
 * Task names for trace records against the real kernel: raw records (a pid each) with the real /proc,
 * in and out of a PID namespace of its own, and trace_pipe's text (a name each, the kernel's when the
 * line is read); in both, the trace's fork and rename events name each call's task as it was then.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInitialPidNamespace } from '../../src/sources/tracefs/names';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { startExporter, type StartOptions } from '../support/exporter';
import { total } from '../support/metrics';

const INIT = 'pid:[4026531836]';

requireInCi(IS_ROOT, 'root for a PID namespace');
testIf(IS_ROOT, 'needs root to make a PID namespace')(
  'the real /proc: the host namespace here, not inside unshare --pid --mount-proc',
  () => {
    const probe = `process.stdout.write(String(require(${JSON.stringify(path.join(REPO, 'dist/src/sources/tracefs/names'))}).isInitialPidNamespace('/proc')))`;
    const host = fs.readlinkSync('/proc/self/ns/pid') === INIT;
    expect(isInitialPidNamespace('/proc')).toBe(host);
    expect(
      execFileSync('unshare', ['--pid', '--fork', '--mount', '--mount-proc', process.execPath, '-e', probe], {
        encoding: 'utf8',
      }),
    ).toBe('false');
  },
);

describe.each([
  ['raw records', 'the host PID namespace (hostPID): /proc names live tasks', { ownMountNamespace: true }],
  ['raw records', 'a PID namespace of its own: saved_cmdlines names them', { privateNamespaces: true }],
  ['trace_pipe text', 'a PID namespace of its own', { privateNamespaces: true }],
] as Array<[string, string, StartOptions]>)('%s, exporter in %s', (format, _, where) => {
  testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for tracefs and real mounts')(
    "a forked task's mounts count under the name it had then, though it exec'd before they were read",
    async () => {
      const K = 11;
      const dir = fs.mkdtempSync('/tmp/mountstorm-fork-');
      // A symlink gives the helper a name of its own; its child starts with that name (fork), makes
      // its mounts, and exec's sleep within microseconds: long before the exporter reads the records.
      const helper = path.join(dir, 'ms-forker');
      // The interpreter itself (PATH's python3 may be a wrapper script, such as pyenv's).
      const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
      fs.symlinkSync(python.trim(), helper);
      fs.mkdirSync(path.join(dir, 'm'));
      const exp = await startExporter(
        [
          '--sample.interval=200ms',
          '--no-collector.containers',
          '--no-collector.namespaces',
          '--collector.tracefs.mode=always',
          `--collector.tracefs.format=${format === 'raw records' ? 'raw' : 'text'}`,
        ],
        where,
      );
      let sleeper = 0;
      try {
        const before = await exp.waitSamples(2);
        const script = path.join(REPO, 'test/support/fork-mount-exec.py');
        // In the exporter's mount namespace, so the mounts touch nothing else.
        const out = execFileSync(
          'nsenter',
          ['-t', String(exp.pid), '-m', '--', helper, script, path.join(dir, 'm'), String(K)],
          {
            encoding: 'utf8',
          },
        );
        sleeper = Number(out.trim());
        expect(fs.readFileSync(`/proc/${sleeper}/comm`, 'utf8').trim()).toBe('sleep');
        const after = await exp.waitSamples(3);
        const by = (comm: string) =>
          total(after, 'mountstorm_mount_syscalls_by_process_total', { comm }) -
          total(before, 'mountstorm_mount_syscalls_by_process_total', { comm });
        expect(by('ms-forker')).toBe(2 * K);
        expect(by('sleep')).toBe(0);
      } finally {
        if (sleeper > 0) process.kill(sleeper, 'SIGKILL');
        await exp.stop('SIGTERM');
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
