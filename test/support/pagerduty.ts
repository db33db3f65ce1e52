/**
 * A local receiver that speaks the PagerDuty Events API v2 (POST /v2/enqueue): it checks what
 * PagerDuty checks (routing_key, event_action, payload.summary, payload.source, payload.severity)
 * and answers as PagerDuty does (202 with status/message/dedup_key, or 400 with errors).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key?: string;
  payload?: {
    summary: string;
    source: string;
    severity: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  receivedAt: number;
}

const SEVERITIES = ['critical', 'error', 'warning', 'info'];

export function validate(e: Partial<PagerDutyEvent>): string[] {
  const errors: string[] = [];
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32)
    errors.push('routing_key must be a 32 character string');
  if (!['trigger', 'acknowledge', 'resolve'].includes(String(e.event_action)))
    errors.push('event_action must be trigger, acknowledge or resolve');
  if (e.event_action === 'trigger') {
    if (!e.payload || typeof e.payload.summary !== 'string' || e.payload.summary === '')
      errors.push('payload.summary is missing');
    if (!e.payload || typeof e.payload.source !== 'string' || e.payload.source === '')
      errors.push('payload.source is missing');
    if (!e.payload || !SEVERITIES.includes(e.payload.severity))
      errors.push('payload.severity must be critical, error, warning or info');
  } else if (typeof e.dedup_key !== 'string' || e.dedup_key === '')
    errors.push('dedup_key is required for acknowledge and resolve');
  return errors;
}

export interface PagerDutyReceiver {
  url: string;
  events: PagerDutyEvent[];
  rejected: { body: string; errors: string[] }[];
  close(): Promise<void>;
}

export async function startPagerDuty(): Promise<PagerDutyReceiver> {
  const events: PagerDutyEvent[] = [];
  const rejected: { body: string; errors: string[] }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v2/enqueue') {
        res.writeHead(404).end();
        return;
      }
      let e: Partial<PagerDutyEvent>;
      try {
        e = JSON.parse(body) as Partial<PagerDutyEvent>;
      } catch {
        rejected.push({ body, errors: ['invalid JSON'] });
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: ['invalid JSON'] }),
          );
        return;
      }
      const errors = validate(e);
      if (errors.length > 0) {
        rejected.push({ body, errors });
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors }));
        return;
      }
      const dedup = e.dedup_key ?? `dedup-${events.length}`;
      events.push({ ...(e as PagerDutyEvent), dedup_key: dedup, receivedAt: Date.now() });
      res
        .writeHead(202, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: dedup }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/enqueue`,
    events,
    rejected,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
