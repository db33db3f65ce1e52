/** Pure parser for the kernel CPU list format (`0-3,8-11`), as in nodeN/cpulist and the *_list files. */
import { ParseError } from '../errors';

export function parseCpuList(text: string, source = 'cpulist'): number[] {
  const s = text.trim();
  const cpus: number[] = [];
  if (s === '') return cpus; // a memory-only NUMA node has no CPUs
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new ParseError(source, 1, `bad CPU list element ${JSON.stringify(part)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi - lo > 65536) throw new ParseError(source, 1, `bad CPU range ${JSON.stringify(part)}`);
    for (let c = lo; c <= hi; c++) cpus.push(c);
  }
  return cpus;
}
