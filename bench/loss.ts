// Trace events lost at a storm's peak, with the exporter's defaults: a sustained churn of bind mount
// + umount pairs (test/support/churn.js, THREADS threads, in a private mount namespace on a tmpfs of
// its own) for SECONDS, while the exporter runs as a node runs it (a mount namespace of its own, the
// host's PID namespace, watching PID 1, tracing on demand). Reported: the mount-family syscalls a
// second the churn made (2 per pair), the events the exporter accounted, and
// mountstorm_trace_events_lost_total over the run; the baseline is the same churn's rate with the
// exporter stopped, measured first.
// FAST more threads call umount2 on a directory that is no mount point (EINVAL at once), for a
// mount-family syscall rate that real mounts cannot reach on two vCPUs; the real churn keeps
// on-demand tracing armed.
// usage (root, after npm run build): node dist/bench/loss.js [seconds=60] [threads=2] [fast=0] [extra exporter flags...]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/support/env';
import { firstChild, metricSum, serveInNamespace, sleep } from './proc';

const [secondsArg, threadsArg, fastArg, ...extra] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 60);
const threads = Number(threadsArg ?? 2);
const fast = Number(fastArg ?? 0);
const cli = path.join(REPO, 'dist/src/cli.js');
const churn = path.join(REPO, 'dist/test/support/churn.js');

function storm(s: number) {
  const dir = fs.mkdtempSync('/tmp/mountstorm-loss-');
  try {
    const calls = Number(
      execFileSync(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-ec',
          `mount -t tmpfs loss ${dir}; exec ${process.execPath} ${churn} ${dir} ${threads} ${s} 0 0 ${fast}`,
        ],
        { encoding: 'utf8' },
      ).trim(),
    );
    return calls / s;
  } finally {
    fs.rmdirSync(dir);
  }
}

(async () => {
  const baseline = storm(Math.min(10, seconds));
  const exp = serveInNamespace(cli, ['--web.listen-address=127.0.0.1:19885', '--no-collector.containers', ...extra]);
  let log = '';
  exp.stderr.on('data', (d) => (log += d));
  const url = 'http://127.0.0.1:19885';
  try {
    for (let i = 0; !/msg="tracefs: tracing mount syscalls"/.test(log); i++) {
      if (i > 300) throw new Error(`the exporter did not start tracefs:\n${log}`);
      await sleep(50);
    }
    await sleep(3000);
    const [lost0, events0] = [
      await metricSum(url, 'mountstorm_trace_events_lost_total'),
      await metricSum(url, 'mountstorm_trace_events_total'),
    ];
    const rate = storm(seconds);
    await sleep(2500);
    const lost = (await metricSum(url, 'mountstorm_trace_events_lost_total')) - lost0;
    const events = (await metricSum(url, 'mountstorm_trace_events_total')) - events0;
    const buffer = /buffer_kb=(\d+)/.exec(log)?.[1];
    console.log(
      `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
    );
    console.log(
      `Command: node dist/bench/loss.js ${seconds} ${threads} ${fast}${extra.length ? ' ' + extra.join(' ') : ''}`,
    );
    console.log('');
    console.log(
      '| churn | mount-family syscalls/s (exporter running) | ÷ the same churn, exporter stopped | trace events accounted | events lost | ring buffer per CPU |',
    );
    console.log('|---|---|---|---|---|---|');
    console.log(
      `| ${threads} threads × ${seconds} s of bind mount + umount${fast ? `, ${fast} of umount2 on no mount point (EINVAL)` : ''} | ${Math.round(rate).toLocaleString('en')} | ${(rate / baseline).toFixed(3)} (${Math.round(baseline).toLocaleString('en')}/s) | ${events.toLocaleString('en')} | ${lost.toLocaleString('en')} | ${buffer ?? '?'} KiB |`,
    );
    if (!/tracefs: armed/.test(log) && !extra.includes('--collector.tracefs.mode=always'))
      console.log('\n(tracing was never armed during the churn)');
  } finally {
    const node = firstChild(exp.pid as number);
    if (node) process.kill(Number(node), 'SIGTERM');
    await new Promise((r) => exp.on('exit', r));
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
