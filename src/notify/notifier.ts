/**
 * The node's own notifier: the evaluator's firing alerts, posted to every Alertmanager given
 * (`/api/v2/alerts`, as Prometheus posts them) with the label set the Prometheus rule would carry
 * for this node — alertname, severity, instance, and the --alertmanager.label pairs standing for
 * Prometheus's external labels — so Alertmanager folds both into one alert, one group, one incident.
 *
 * As Prometheus does, a firing alert is re-sent every --alertmanager.resend-interval with endsAt
 * four intervals ahead (an exporter that dies mid-storm lets the alert resolve by itself), and a
 * resolved one is sent once with endsAt = when it resolved. Each Alertmanager has its own queue
 * holding the latest state of each alert (bounded), its own retry with backoff (capped at the
 * resend interval, so a restarted Alertmanager gets the page within one), its own cause logged
 * once. Nothing here waits on the network in the sampler's path: update() only queues.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { AlertState } from '../alerts/evaluate';
import { errorMessage } from '../errors';
import type { Exposition } from '../exposition';
import type { Logger } from '../log';
import type { ClientConfig } from './config';
import { NOTIFY_METRICS as M } from '../metric-names';

export interface NotifierOptions {
  urls: readonly URL[];
  client: ClientConfig;
  /** The `instance` label: the node as the Prometheus rule names it. */
  instance: string;
  /** Further labels on every alert (Prometheus's external_labels, where it sets them). */
  labels: Readonly<Record<string, string>>;
  resendMs: number;
  log: Logger;
  exposition: Exposition;
}

/** An alert as Alertmanager's API v2 takes it. */
export interface WireAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

/** With no alert to send, a target is told an empty list this often, so mountstorm_alertmanager_up says whether the page path works. */
export const HEARTBEAT_MS = 30_000;
/** At most this many alerts wait per Alertmanager; older ones beyond it are dropped (and counted). */
export const MAX_QUEUE = 64;
const FIRST_RETRY_MS = 250;
const MAX_RESPONSE_BYTES = 64 * 1024;

class Target {
  readonly label: string;
  readonly endpoint: URL;
  readonly queue = new Map<string, WireAlert>();
  heartbeatDue = true;
  private busy = false;
  private failures = 0;
  private retryAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastAttempt = 0;
  private agent: http.Agent;
  private closed = false;

  constructor(
    url: URL,
    private client: ClientConfig,
    private readonly n: Notifier,
  ) {
    this.label = url.href;
    this.endpoint = new URL('api/v2/alerts', url);
    this.agent = this.makeAgent();
  }

  private makeAgent(): http.Agent {
    const opts = { keepAlive: true, maxSockets: 1 };
    return this.endpoint.protocol === 'https:'
      ? new https.Agent({ ...opts, ...this.client.tls })
      : new http.Agent(opts);
  }

  setClient(c: ClientConfig): void {
    this.client = c;
    this.agent.destroy();
    this.agent = this.makeAgent();
  }

  enqueue(key: string, a: WireAlert): void {
    this.queue.delete(key); // re-inserted last: the oldest are first to go
    this.queue.set(key, a);
    while (this.queue.size > MAX_QUEUE) {
      this.queue.delete(this.queue.keys().next().value as string);
      this.n.metrics.dropped.inc({ alertmanager: this.label });
    }
    this.n.metrics.queue.set({ alertmanager: this.label }, this.queue.size);
  }

  /** Sends what is queued now, unless a request is out or a retry is due later. */
  kick(now = Date.now()): void {
    if (this.closed || this.busy) return;
    if (now - this.lastAttempt >= HEARTBEAT_MS) this.heartbeatDue = true;
    if (this.queue.size === 0 && !this.heartbeatDue) return;
    if (now < this.retryAt) {
      if (!this.timer) this.timer = setTimeout(() => ((this.timer = undefined), this.kick()), this.retryAt - now);
      return;
    }
    const batch = [...this.queue.entries()];
    this.heartbeatDue = false;
    this.busy = true;
    this.lastAttempt = now;
    const started = process.hrtime.bigint();
    void this.post(batch.map(([, a]) => a)).then(
      () => {
        this.busy = false;
        this.n.metrics.latency.observe({ alertmanager: this.label }, Number(process.hrtime.bigint() - started) / 1e9);
        this.n.metrics.up.set({ alertmanager: this.label }, 1);
        if (batch.length > 0)
          this.n.metrics.notifications.inc({ alertmanager: this.label, result: 'sent' }, batch.length);
        for (const [k, a] of batch) if (this.queue.get(k) === a) this.queue.delete(k);
        this.n.metrics.queue.set({ alertmanager: this.label }, this.queue.size);
        this.failures = 0;
        this.retryAt = 0;
        this.n.log.recovered(`alertmanager:${this.label}`, 'Alertmanager reachable again');
        if (this.queue.size > 0) this.kick();
      },
      (err: unknown) => {
        this.busy = false;
        this.n.metrics.latency.observe({ alertmanager: this.label }, Number(process.hrtime.bigint() - started) / 1e9);
        this.n.metrics.up.set({ alertmanager: this.label }, 0);
        if (batch.length > 0)
          this.n.metrics.notifications.inc({ alertmanager: this.label, result: 'failed' }, batch.length);
        const reason = errorMessage(err);
        if (err instanceof Rejected) {
          // Alertmanager refused these alerts as malformed: sending them again cannot succeed.
          for (const [k, a] of batch) if (this.queue.get(k) === a) this.queue.delete(k);
          this.n.metrics.dropped.inc({ alertmanager: this.label }, batch.length);
          this.n.metrics.queue.set({ alertmanager: this.label }, this.queue.size);
        } else if (batch.length === 0) this.heartbeatDue = true;
        this.failures++;
        const backoff = Math.min(this.n.resendMs, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 16));
        this.retryAt = Date.now() + backoff;
        this.n.log.failure(
          `alertmanager:${this.label}`,
          'warn',
          `cannot notify Alertmanager: ${reason}; retrying with backoff`,
          { alertmanager: this.label },
        );
        this.kick();
      },
    );
  }

  private post(alerts: WireAlert[]): Promise<void> {
    const body = Buffer.from(JSON.stringify(alerts));
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': body.length,
      'user-agent': this.n.userAgent,
    };
    if (this.client.authorization) headers.authorization = this.client.authorization;
    const mod = this.endpoint.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(this.endpoint, { method: 'POST', headers, agent: this.agent }, (res) => {
        let size = 0;
        let text = '';
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_RESPONSE_BYTES)
            text += chunk.toString('utf8', 0, Math.min(chunk.length, MAX_RESPONSE_BYTES - size));
          size += chunk.length;
        });
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(deadline);
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else if (
            status >= 400 &&
            status < 500 &&
            status !== 429 &&
            status !== 401 &&
            status !== 403 &&
            status !== 404
          )
            reject(new Rejected(`HTTP ${status}: ${text.trim().slice(0, 200)}`));
          else reject(new Error(`HTTP ${status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`));
        });
      });
      const deadline = setTimeout(
        () => req.destroy(new Error(`no answer within ${this.client.timeoutMs} ms`)),
        this.client.timeoutMs,
      );
      req.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      req.end(body);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.agent.destroy();
  }
}

class Rejected extends Error {}

export class Notifier {
  readonly targets: Target[];
  readonly metrics: {
    up: Gauge<'alertmanager'>;
    notifications: Counter<'alertmanager' | 'result'>;
    dropped: Counter<'alertmanager'>;
    queue: Gauge<'alertmanager'>;
    latency: Histogram<'alertmanager'>;
  };
  readonly log: Logger;
  readonly resendMs: number;
  readonly userAgent: string;
  private readonly firing = new Map<string, { sentAt: number; firedAt: number }>();

  constructor(
    private readonly opts: NotifierOptions,
    version: string,
  ) {
    this.log = opts.log;
    this.resendMs = opts.resendMs;
    this.userAgent = `mountstorm/${version}`;
    const e = opts.exposition;
    this.metrics = {
      up: e.gauge(
        M.alertmanagerUp,
        "1 where the exporter's last request to this Alertmanager succeeded (alerts, or an empty list every 30 s), else 0: the node's own page path works.",
        ['alertmanager'],
      ),
      notifications: e.counter(
        M.notifications,
        'Alerts posted by the node to Alertmanager, by result (sent, failed).',
        ['alertmanager', 'result'],
      ),
      dropped: e.counter(
        M.dropped,
        'Alerts dropped unsent: the queue was full, or Alertmanager refused them as malformed.',
        ['alertmanager'],
      ),
      queue: e.gauge(M.queueLength, 'Alerts waiting to be sent to this Alertmanager.', ['alertmanager']),
      latency: e.histogram(
        M.latency,
        'Time to post to Alertmanager and read its answer, failures included.',
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        ['alertmanager'],
      ),
    };
    this.targets = opts.urls.map((u) => new Target(u, opts.client, this));
    for (const t of this.targets) {
      this.metrics.up.set({ alertmanager: t.label }, 0);
      this.metrics.queue.set({ alertmanager: t.label }, 0);
      for (const result of ['sent', 'failed']) this.metrics.notifications.inc({ alertmanager: t.label, result }, 0);
      this.metrics.dropped.inc({ alertmanager: t.label }, 0);
    }
  }

  /** Starts the heartbeat: mountstorm_alertmanager_up is known before anything fires. */
  start(): void {
    for (const t of this.targets) t.kick();
  }

  labels(a: AlertState): Record<string, string> {
    return { ...this.opts.labels, alertname: a.name, severity: a.severity, instance: this.opts.instance };
  }

  private wire(a: AlertState, endsAt: number): WireAlert {
    return {
      labels: this.labels(a),
      annotations: { summary: a.summary, description: a.description, runbook_url: a.runbookUrl },
      startsAt: new Date(a.firedAt as number).toISOString(),
      endsAt: new Date(endsAt).toISOString(),
    };
  }

  /** The evaluator's states after a sample: new and due firing alerts, and the resolved, are queued and sent. */
  update(states: readonly AlertState[], now = Date.now()): void {
    for (const a of states) {
      const f = this.firing.get(a.name);
      if (a.phase === 'firing') {
        if (f && f.firedAt === a.firedAt && now - f.sentAt < this.resendMs) continue;
        this.firing.set(a.name, { sentAt: now, firedAt: a.firedAt as number });
        const w = this.wire(a, now + 4 * this.resendMs);
        for (const t of this.targets) t.enqueue(a.name, w);
      } else if (f) {
        this.firing.delete(a.name);
        const w = this.wire({ ...a, firedAt: f.firedAt }, a.resolvedAt ?? now);
        for (const t of this.targets) t.enqueue(a.name, w);
      }
    }
    for (const t of this.targets) t.kick(now);
  }

  setClient(c: ClientConfig): void {
    for (const t of this.targets) t.setClient(c);
  }

  close(): void {
    for (const t of this.targets) t.close();
  }
}
