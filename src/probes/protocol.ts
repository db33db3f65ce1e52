export type ProbeRequest =
  | { id: number; kind: 'first-read'; path: string }
  | { id: number; kind: 'stat-batch'; path: string; count: number };

export type ProbeResponse = { id: number; seconds: number } | { id: number; error: string };
