/** What a listener told, in order, and a wait until it has told `n` things in all (for watch tests). */
export function recorder<T>(): { told: T[]; tell: (t: T) => void; until: (n: number) => Promise<T[]> } {
  const told: T[] = [];
  const waiters: Array<() => void> = [];
  return {
    told,
    tell(t) {
      told.push(t);
      for (const w of waiters.splice(0)) w();
    },
    async until(n) {
      while (told.length < n) await new Promise<void>((r) => waiters.push(r));
      return told;
    },
  };
}
