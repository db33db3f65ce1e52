/**
 * A mount storm for tests: THREADS worker threads each bind-mount and unmount in a tight loop for
 * SECONDS, under DIR (which must be a private mount), while UNSHARERS processes keep creating mount
 * namespaces (each copies the whole table with namespace_sem held for writing, as every container
 * start does). PRELOAD bind mounts are made first and stay, so that table is large.
 * Prints the number of mount+umount pairs.
 * usage: node churn.js DIR THREADS SECONDS [PRELOAD] [UNSHARERS]
 */
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { MS_BIND, mount, umount2 } from '../../src/kernel/mount';

if (isMainThread) {
  const [dir, threads, seconds, preload = '0', unsharers = '0', fast = '0'] = process.argv.slice(2) as [
    string,
    string,
    string,
    string?,
    string?,
    string?,
  ];
  const n = Number(threads) + Number(fast);
  fs.mkdirSync(`${dir}/pre`, { recursive: true });
  for (let i = 0; i < Number(preload); i++) {
    fs.mkdirSync(`${dir}/pre/${i}`);
    mount(`${dir}/pre`, `${dir}/pre/${i}`, null, MS_BIND);
  }
  const end = Date.now() + Number(seconds) * 1000;
  const unshareLoop = (): void => {
    if (Date.now() >= end) return;
    spawn('unshare', ['-m', 'true'], { stdio: 'ignore' }).on('exit', unshareLoop);
  };
  for (let i = 0; i < Number(unsharers); i++) unshareLoop();
  let total = 0;
  let done = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(__filename, {
      workerData: { dir: `${dir}/w${i}`, seconds: Number(seconds), fast: i >= Number(threads) },
    });
    w.on('message', (calls: number) => {
      total += calls;
      if (++done === n) process.stdout.write(`${total}\n`);
    });
  }
} else {
  const { dir, seconds, fast } = workerData as { dir: string; seconds: number; fast: boolean };
  fs.mkdirSync(`${dir}/src`, { recursive: true });
  fs.mkdirSync(`${dir}/dst`, { recursive: true });
  const end = Date.now() + seconds * 1000;
  let calls = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 100; i++) {
      if (fast) {
        try {
          umount2(`${dir}/dst`);
        } catch {
          // EINVAL: not a mount point, as intended
        }
        calls++;
      } else {
        mount(`${dir}/src`, `${dir}/dst`, null, MS_BIND);
        umount2(`${dir}/dst`);
        calls += 2;
      }
    }
  }
  parentPort?.postMessage(calls);
}
