/**
 * A tracefs instance of a benchmark's own, `mountstorm-bench-<name>-<pid>`: tracefs mounted at
 * /sys/kernel/tracing first where it is not (run the benchmark in a private mount namespace, so
 * the mount vanishes with it), one a killed run of the same benchmark left behind removed (not the
 * exporter's `mountstorm-<pid>` pattern, so an exporter's stale sweep leaves these alone), and this
 * one disabled and removed as the process exits.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const TRACING = '/sys/kernel/tracing';

export interface BenchInstance {
  dir: string;
  /** Writes a file of the instance (`events/<event>/enable`, `trace`, …). */
  write: (rel: string, value: string) => void;
  /** Events the instance's ring buffers hold or overwrote, over every CPU. */
  recorded: () => number;
}

export function benchInstance(name: string): BenchInstance {
  if (!fs.existsSync(path.join(TRACING, 'instances'))) {
    const r = spawnSync('mount', ['-t', 'tracefs', 'tracefs', TRACING], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`cannot mount tracefs at ${TRACING}`);
  }
  const pattern = new RegExp(`^mountstorm-bench-${name}-(\\d+)$`);
  for (const n of fs.readdirSync(path.join(TRACING, 'instances'))) {
    const m = pattern.exec(n);
    if (!m || fs.existsSync(`/proc/${m[1]}`)) continue;
    const stale = path.join(TRACING, 'instances', n);
    fs.writeFileSync(path.join(stale, 'events/enable'), '0');
    fs.rmdirSync(stale);
  }
  const dir = path.join(TRACING, 'instances', `mountstorm-bench-${name}-${process.pid}`);
  fs.mkdirSync(dir);
  const write = (rel: string, value: string) => fs.writeFileSync(path.join(dir, rel), value);
  process.on('exit', () => {
    try {
      write('events/enable', '0');
      fs.rmdirSync(dir);
    } catch {
      /* already gone */
    }
  });
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));
  return {
    dir,
    write,
    recorded: () => {
      let n = 0;
      for (const cpu of fs.readdirSync(path.join(dir, 'per_cpu'))) {
        const stats = fs.readFileSync(path.join(dir, 'per_cpu', cpu, 'stats'), 'utf8');
        n += Number(/^entries: (\d+)/m.exec(stats)?.[1]) + Number(/^overrun: (\d+)/m.exec(stats)?.[1]);
      }
      return n;
    },
  };
}
