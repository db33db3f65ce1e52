import type { Mode, Syscall } from './plan';
import type { Percentiles } from './stats';

export interface StormReport {
  mode: Mode;
  layers: number;
  /** Where the image layers were: "tmpfs" (the storm's own), or the --scratch-dir directory and its file system. */
  layerStore: string;
  /** per-cpu-masks: the paths each container masked (the runtime's defaults and one per CPU), and the CPUs. */
  maskedPaths?: number;
  cpus?: number;
  /** namespace-copy: the mounts each new namespace copied. */
  table?: number;
  concurrency: number;
  containers: number;
  /** Layer attaches, overlay mounts and layer detaches: the mode's formula × containers. */
  operations: number;
  /** Overlay unmounts (the round-1 overlay, and the rootfs when its container goes away). */
  teardownUmounts: number;
  syscalls: Record<Syscall, number>;
  wallSeconds: number;
  operationsPerSecond: number;
  latency: Partial<Record<Syscall, Percentiles>>;
  containerStart: Percentiles;
}

export interface Comparison {
  baseline: StormReport;
  candidate: StormReport;
  /** candidate ÷ baseline */
  ratios: {
    wallSeconds: number;
    operationsPerSecond: number;
    containerStartP99: number;
    operationsPerContainer: number;
  };
}

export function compare(baseline: StormReport, candidate: StormReport): Comparison {
  const div = (a: number, b: number) => (b === 0 ? 0 : a / b);
  return {
    baseline,
    candidate,
    ratios: {
      wallSeconds: div(candidate.wallSeconds, baseline.wallSeconds),
      operationsPerSecond: div(candidate.operationsPerSecond, baseline.operationsPerSecond),
      containerStartP99: div(candidate.containerStart.p99, baseline.containerStart.p99),
      operationsPerContainer: div(
        candidate.operations / Math.max(1, candidate.containers),
        baseline.operations / Math.max(1, baseline.containers),
      ),
    },
  };
}

const us = (s: number) => (s >= 0.01 ? `${(s * 1000).toFixed(1)} ms` : `${(s * 1e6).toFixed(0)} µs`);

export function formatReport(r: StormReport): string {
  const lines = [
    `mode ${r.mode}: ${r.containers} containers × ${r.maskedPaths !== undefined ? `${r.maskedPaths} masked paths (${r.cpus} CPUs)` : r.table !== undefined ? `a new namespace copying ${r.table} mounts` : `${r.layers} layers`}, concurrency ${r.concurrency}`,
    ...(r.layerStore !== 'tmpfs' ? [`  layers on            ${r.layerStore} (tmpfs has no idmapped mounts here)`] : []),
    `  wall time            ${r.wallSeconds.toFixed(3)} s`,
    `  mount operations     ${r.operations} (${(r.operations / Math.max(1, r.containers)).toFixed(0)} per container), ${Math.round(r.operationsPerSecond)} ops/s`,
    `  teardown unmounts    ${r.teardownUmounts}`,
    `  container start      p50 ${us(r.containerStart.p50)}  p99 ${us(r.containerStart.p99)}  max ${us(r.containerStart.max)}`,
    `  syscall              count      p50        p99        max`,
  ];
  for (const [name, p] of Object.entries(r.latency)) {
    lines.push(
      `  ${name.padEnd(20)} ${String(p.count).padEnd(10)} ${us(p.p50).padEnd(10)} ${us(p.p99).padEnd(10)} ${us(p.max)}`,
    );
  }
  return lines.join('\n');
}

export function formatComparison(c: Comparison): string {
  return [
    formatReport(c.baseline),
    '',
    formatReport(c.candidate),
    '',
    `${c.candidate.mode} vs ${c.baseline.mode}: wall time ×${c.ratios.wallSeconds.toFixed(3)}, ops/s ×${c.ratios.operationsPerSecond.toFixed(3)}, ` +
      `container start p99 ×${c.ratios.containerStartP99.toFixed(3)}, operations per container ×${c.ratios.operationsPerContainer.toFixed(3)}`,
  ].join('\n');
}
