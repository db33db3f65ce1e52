// Where the exporter's memory goes: its RSS and threads after SETTLE s idle, on its defaults, with
// each worker thread's collectors off in turn, the host collector off, and under V8 flags that trim
// a heap; beside a bare Node HTTP server and one that also starts an empty worker thread (what an
// isolate costs by itself), and, with --baseline, another build's exporter on its defaults, all in
// the same run. Each exporter runs alone in a private mount namespace (`serve --mount.pid=self`),
// one after another.
// usage (root, after npm run build): node dist/bench/memory.js [settle=15] [--baseline=/path/to/other/checkout]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/support/env';
import { firstChild, sleep } from './proc';

const args = process.argv.slice(2);
const baseline = args.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
const settle = Number(args.find((a) => !a.startsWith('--')) ?? 15);
const CLI = path.join(REPO, 'dist/src/cli.js');

const ARMS: Array<{ name: string; node?: string[]; flags?: string[]; script?: string; cli?: string }> = [
  { name: 'bare Node HTTP server', script: "require('node:http').createServer((q, s) => s.end('ok')).listen(0)" },
  {
    name: 'bare Node HTTP server + one empty worker thread',
    script:
      "require('node:http').createServer((q, s) => s.end('ok')).listen(0); new (require('node:worker_threads').Worker)('setInterval(() => {}, 1000)', { eval: true })",
  },
  { name: 'exporter, defaults' },
  { name: 'exporter, no probes (the mount-locks worker stays)', flags: ['--no-collector.probes'] },
  {
    name: 'exporter, no mounts, no probes (the mount-locks worker)',
    flags: ['--no-collector.mounts', '--no-collector.probes'],
  },
  { name: 'exporter, no tracefs (the kernel-events worker stays)', flags: ['--no-collector.tracefs'] },
  {
    name: 'exporter, no tracefs, no namespaces (the kernel-events worker)',
    flags: ['--no-collector.tracefs', '--no-collector.namespaces'],
  },
  {
    name: 'exporter, no host (systeminformation, loaded only where the host has no DMI)',
    flags: ['--no-collector.host'],
  },
  { name: 'exporter, --max-semi-space-size=1', node: ['--max-semi-space-size=1'] },
  { name: 'exporter, --v8-pool-size=1', node: ['--v8-pool-size=1'] },
  ...(baseline
    ? [{ name: `baseline exporter (${baseline}), defaults`, cli: path.join(baseline, 'dist/src/cli.js') }]
    : []),
];

function status(pid: number): { rss: number; threads: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    rss: Number(/^VmRSS:\s+(\d+) kB$/m.exec(s)?.[1]) / 1024,
    threads: Number(/^Threads:\s+(\d+)$/m.exec(s)?.[1]),
  };
}

(async () => {
  const rows: string[] = [];
  for (const [i, a] of ARMS.entries()) {
    const argv = a.script
      ? [...(a.node ?? []), '-e', a.script]
      : [
          ...(a.node ?? []),
          a.cli ?? CLI,
          'serve',
          `--web.listen-address=127.0.0.1:${19_960 + i}`,
          '--mount.pid=self',
          ...(a.flags ?? []),
        ];
    const p = spawn(
      'unshare',
      ['--mount', '--fork', '--kill-child', '--propagation', 'private', process.execPath, ...argv],
      {
        stdio: 'ignore',
      },
    );
    await sleep(settle * 1000);
    const pid = firstChild(p.pid as number) as number;
    const s = status(pid);
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(pid, 'SIGTERM');
    await exited;
    rows.push(`| ${a.name} | ${s.rss.toFixed(1)} MiB | ${s.threads} |`);
    process.stderr.write(`${a.name}: ${s.rss.toFixed(1)} MiB, ${s.threads} threads\n`);
  }
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/memory.js ${args.join(' ')}`);
  console.log('');
  console.log('| process | RSS | threads |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(r);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
