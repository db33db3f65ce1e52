#!/usr/bin/env node
// Storm benchmark: per-layer-idmap vs common-parent-idmap (the fix) on the same workload, at each
// concurrency, with `mountstorm storm --compare`. Prints a Markdown table for BENCHMARKS.md.
// usage (root, after npm run build): node bench/storm.js [containers] [layers] [concurrency,...]
const { execFileSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');

const containers = Number(process.argv[2] ?? 100);
const layers = Number(process.argv[3] ?? 50);
const levels = (process.argv[4] ?? '1,4,16,64').split(',').map(Number);
const cli = path.join(__dirname, '../dist/src/cli.js');
const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.+)/) || [])[1] || 'unknown';
const us = (s) => (s * 1e6).toFixed(0);
const ms = (s) => (s * 1e3).toFixed(2);

console.log(`Machine: ${os.cpus().length} CPUs (${cpu}), kernel ${os.release()}, node ${process.version}`);
console.log(
  `Workload: ${containers} containers x ${layers} layers per run; command: node bench/storm.js ${containers} ${layers} ${levels.join(',')}`,
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
  const r = JSON.parse(out);
  for (const [name, rep] of [
    ['per-layer-idmap', r.baseline],
    ['common-parent-idmap', r.candidate],
  ]) {
    const ratio =
      name === 'common-parent-idmap'
        ? `${r.ratios.wallSeconds.toFixed(3)} / ${r.ratios.containerStartP99.toFixed(3)}`
        : '1 (baseline)';
    console.log(
      `| ${c} | ${name} | ${rep.containers} | ${rep.operations} | ${Math.round(rep.operationsPerSecond)} | ${rep.wallSeconds.toFixed(3)} | ${us(rep.latency.move_mount.p99)} | ${us(rep.latency.umount2.p99)} | ${us(rep.latency.mount.p99)} | ${ms(rep.containerStart.p99)} | ${ratio} |`,
    );
  }
}
