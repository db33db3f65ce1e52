// Storm benchmark: per-layer-idmap vs common-parent-idmap (the fix) on the same workload, at each
// concurrency, with `mountstorm storm --compare`. Prints a Markdown table for BENCHMARKS.md.
// usage (root, after npm run build): node dist/bench/storm.js [containers] [layers] [concurrency,...]
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { REPO } from '../test/support/env';
import type { Comparison } from '../src/storm/report';

const containers = Number(process.argv[2] ?? 100);
const layers = Number(process.argv[3] ?? 50);
const levels = (process.argv[4] ?? '1,4,16,64').split(',').map(Number);
const cli = path.join(REPO, 'dist/src/cli.js');
const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/) || [])[1] || 'unknown';
const us = (s: number) => (s * 1e6).toFixed(0);
const ms = (s: number) => (s * 1e3).toFixed(2);

console.log(`Machine: ${os.cpus().length} CPUs (${cpu}), kernel ${os.release()}, node ${process.version}`);
console.log(
  `Workload: ${containers} containers x ${layers} layers per run; command: node dist/bench/storm.js ${containers} ${layers} ${levels.join(',')}`,
);
console.log('');
console.log(
  '| concurrency | mode | containers | mount ops | ops/s | wall s | p99 move_mount µs | p99 umount2 µs | p99 overlay mount µs | container start p99 ms | ratio (fix ÷ per-layer): wall / start p99 |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const c of levels) {
  const out = execFileSync(
    process.execPath,
    [
      cli,
      'storm',
      '--json',
      '--no-progress',
      `--containers=${containers}`,
      `--layers=${layers}`,
      `--concurrency=${c}`,
      '--compare=common-parent-idmap',
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const r = JSON.parse(out) as Comparison;
  for (const [name, rep] of [
    ['per-layer-idmap', r.baseline],
    ['common-parent-idmap', r.candidate],
  ] as const) {
    const ratio =
      name === 'common-parent-idmap'
        ? `${r.ratios.wallSeconds.toFixed(3)} / ${r.ratios.containerStartP99.toFixed(3)}`
        : '1 (baseline)';
    console.log(
      `| ${c} | ${name} | ${rep.containers} | ${rep.operations} | ${Math.round(rep.operationsPerSecond)} | ${rep.wallSeconds.toFixed(3)} | ${us(rep.latency.move_mount?.p99 ?? NaN)} | ${us(rep.latency.umount2?.p99 ?? NaN)} | ${us(rep.latency.mount?.p99 ?? NaN)} | ${ms(rep.containerStart.p99)} | ${ratio} |`,
    );
  }
}
