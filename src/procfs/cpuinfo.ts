/** The CPU model name from /proc/cpuinfo: `model name` on x86, `cpu model`/`Processor` elsewhere. */
export function parseCpuModel(text: string): string | undefined {
  for (const key of ['model name', 'cpu model', 'Processor', 'cpu']) {
    const re = new RegExp(`^${key}\\s*:\\s*(.+)$`, 'm');
    const m = re.exec(text);
    if (m && m[1]) return m[1].trim().replace(/\s+/g, ' ');
  }
  return undefined;
}
