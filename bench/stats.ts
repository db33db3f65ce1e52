// The statistics every benchmark reports, in one place: the median, and the mean with a two-sided
// 95 % confidence interval from Student's t. Benchmarks compare arms measured in the same run, so
// what they report is mostly ratios; these summarise a list of them.

/** The median: the middle value, or the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Student's t, two-sided 95 %, for 1-30 degrees of freedom; beyond, the values for 40, 60, 120 and the normal's. */
const T95 = [
  12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
function t95(df: number): number {
  if (df <= 30) return T95[df - 1] as number;
  if (df <= 40) return 2.021;
  if (df <= 60) return 2.0;
  if (df <= 120) return 1.98;
  return 1.96;
}

/** The mean and the half-width of its 95 % confidence interval (NaN with fewer than two values). */
export function meanCi(values: readonly number[]): { mean: number; half: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, half: NaN };
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { mean, half: (t95(n - 1) * sd) / Math.sqrt(n) };
}
