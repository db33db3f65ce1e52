/** Pure parser for the per-CPU lines of /proc/stat (proc(5)); values in USER_HZ ticks. */
import { ParseError } from '../errors';

/** Modes as node_exporter names them; guest time is already inside user/nice, so it is not repeated. */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

/** Ticks per mode; a mode older kernels do not print is absent, not 0. */
export type CpuTimes = Partial<Record<CpuMode, number>>;

export interface ProcStat {
  cpus: Map<number, CpuTimes>;
}

/** The kernel's USER_HZ: fixed at 100 on every architecture's user ABI. */
export const USER_HZ = 100;

export function parseProcStat(text: string, source = 'stat'): ProcStat {
  const cpus = new Map<number, CpuTimes>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith('cpu') || line.startsWith('cpu ')) continue;
    const f = line.trim().split(/\s+/);
    const id = (f[0] as string).slice(3);
    if (!/^\d+$/.test(id)) throw new ParseError(source, i + 1, `bad cpu label ${JSON.stringify(f[0])}`);
    if (f.length < 5) throw new ParseError(source, i + 1, `expected at least 4 counters, found ${f.length - 1}`);
    const times: CpuTimes = {};
    for (let m = 0; m < CPU_MODES.length && m + 1 < f.length; m++) {
      const v = f[m + 1] as string;
      if (!/^\d+$/.test(v))
        throw new ParseError(source, i + 1, `non-numeric ${CPU_MODES[m]} value ${JSON.stringify(v)}`);
      times[CPU_MODES[m] as CpuMode] = Number(v);
    }
    cpus.set(Number(id), times);
  }
  if (cpus.size === 0) throw new ParseError(source, 1, 'no per-CPU lines');
  return { cpus };
}
