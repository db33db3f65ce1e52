export type ProbeRequest =
  { id: number; kind: 'first-read'; path: string } | { id: number; kind: 'stat-batch'; path: string; count: number };

export type ProbeResponse = { seconds: number };
