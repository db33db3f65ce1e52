/**
 * A mount storm for tests: THREADS worker threads each bind-mount and unmount in a tight loop for
 * SECONDS, under DIR (which must be a private mount). Prints the number of mount+umount pairs.
 * usage: node churn.js DIR THREADS SECONDS
 */
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import * as fs from 'node:fs';
import { MS_BIND, mount, umount2 } from '../../src/storm/syscalls';

if (isMainThread) {
  const [dir, threads, seconds] = process.argv.slice(2);
  const n = Number(threads);
  let total = 0;
  let done = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(__filename, { workerData: { dir: `${dir}/w${i}`, seconds: Number(seconds) } });
    w.on('message', (pairs: number) => {
      total += pairs;
      if (++done === n) process.stdout.write(`${total}\n`);
    });
  }
} else {
  const { dir, seconds } = workerData as { dir: string; seconds: number };
  fs.mkdirSync(`${dir}/src`, { recursive: true });
  fs.mkdirSync(`${dir}/dst`, { recursive: true });
  const end = Date.now() + seconds * 1000;
  let pairs = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 100; i++) {
      mount(`${dir}/src`, `${dir}/dst`, null, MS_BIND);
      umount2(`${dir}/dst`);
      pairs++;
    }
  }
  parentPort?.postMessage(pairs);
}
