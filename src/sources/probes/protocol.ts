export type ProbeRequest = { kind: 'first-read'; path: string } | { kind: 'stat-batch'; path: string; count: number };

export type ProbeResponse = { seconds: number };
