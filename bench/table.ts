// A big mount table for the benchmarks that need one: TABLE bind mounts on a tmpfs of its own, in
// the caller's mount namespace (a private one: every mount vanishes with it), and one more mount
// that can be replaced by an identical one (the table changes, its size does not).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { mount, MS_BIND, MNT_DETACH, umount2 } from '../src/kernel/mount';

const MI = '/proc/self/mountinfo';

/** The mounts in this process's table now. */
export function mountCount(): number {
  return fs.readFileSync(MI, 'utf8').split('\n').length - 1;
}

/** The kernel producing the table's text once: this process's CPU for one whole read of it (what `cat` costs). */
export function kernelRead(): number {
  const c = process.cpuUsage();
  fs.readFileSync(MI);
  const u = process.cpuUsage(c);
  return (u.user + u.system) / 1e6;
}

export interface BigTable {
  /** Replaces one mount by an identical one. */
  flip(): void;
  /** Flips `perSecond` times a second until stopped. */
  churn(perSecond: number): { stop(): void };
  /**
   * The same from a process of its own (mount(8) and umount(8) in a shell loop): in a storm a flip
   * waits on the mount locks, and this process's event loop (a benchmark reading the exporter) must not.
   */
  churnApart(perSecond: number): { stop(): void };
  remove(): void;
}

/** Grows this namespace's table to `n` mounts. */
export function bigTable(n: number): BigTable {
  const base = fs.mkdtempSync('/tmp/mountstorm-table-');
  mount('bench', base, 'tmpfs', 0);
  fs.mkdirSync(`${base}/src`);
  fs.mkdirSync(`${base}/flip`);
  mount(`${base}/src`, `${base}/flip`, null, MS_BIND);
  for (let i = mountCount(); i < n; i++) {
    fs.mkdirSync(`${base}/m${i}`);
    mount(`${base}/src`, `${base}/m${i}`, null, MS_BIND);
  }
  const flip = () => {
    umount2(`${base}/flip`);
    mount(`${base}/src`, `${base}/flip`, null, MS_BIND);
  };
  return {
    flip,
    churn(perSecond) {
      const t = setInterval(flip, 1000 / perSecond);
      return { stop: () => clearInterval(t) };
    },
    churnApart(perSecond) {
      const loop = spawn(
        'sh',
        [
          '-c',
          'while :; do umount "$1"; mount --bind "$2" "$1"; sleep "$3"; done',
          'sh',
          `${base}/flip`,
          `${base}/src`,
          String(1 / perSecond),
        ],
        { stdio: 'ignore' },
      );
      return { stop: () => loop.kill('SIGKILL') };
    },
    remove() {
      umount2(base, MNT_DETACH);
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}
