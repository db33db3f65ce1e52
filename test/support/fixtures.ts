import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES } from './env';

/** Flags that point the exporter at the dual-socket fixture host. */
export const FIXTURE_ARGS = [
  `--path.procfs=${path.join(FIXTURES, 'proc')}`,
  `--path.sysfs=${path.join(FIXTURES, 'sys')}`,
  `--path.rootfs=${path.join(FIXTURES, 'rootfs')}`,
  '--sample.interval=200ms',
];

/** Copies of the fixture /proc and /sys a test may break. */
export function faultTrees(): { root: string; proc: string; sys: string; args: string[] } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-faults-'));
  const proc = path.join(root, 'proc');
  const sys = path.join(root, 'sys');
  fs.cpSync(path.join(FIXTURES, 'proc'), proc, { recursive: true, verbatimSymlinks: true });
  fs.cpSync(path.join(FIXTURES, 'sys'), sys, { recursive: true, verbatimSymlinks: true });
  fs.chmodSync(root, 0o755);
  return {
    root,
    proc,
    sys,
    args: [
      `--path.procfs=${proc}`,
      `--path.sysfs=${sys}`,
      `--path.rootfs=${path.join(FIXTURES, 'rootfs')}`,
      '--sample.interval=100ms',
      '--no-collector.tracefs',
    ],
  };
}
