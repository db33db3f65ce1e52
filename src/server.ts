/**
 * The HTTP face: /metrics (Prometheus text, or OpenMetrics when the client asks for it), / (a
 * landing page), /healthz. Built without listening so tests can drive it; `main` listens.
 */
import express, { type Request, type Response, type NextFunction } from 'express';
import type { Exposition, Format } from './exposition';
import { landingPage } from './landing/page';
import type { Logger } from './log';
import type { NodeStateView } from './landing/node-state';
import type { WebAuth } from './web/auth';
import { escapeHtml } from './web/html';

export interface AppDeps {
  exposition: Exposition;
  telemetryPath: string;
  /** Parallel scrapes allowed; more get 503 instead of piling up. */
  maxRequests: number;
  log: Logger;
  version: string;
  /** The node's state for the landing page; without it `/` is a plain page of links. */
  state?: NodeStateView;
  /** Basic auth and client-certificate checks from --web.config.file. */
  auth?: WebAuth;
}

/** OpenMetrics only when the Accept header asks for it; Prometheus text otherwise. */
export function negotiate(accept: string | undefined): Format {
  return accept !== undefined && /application\/openmetrics-text/i.test(accept) ? 'openmetrics' : 'prometheus';
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  let inFlight = 0;

  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.set('Allow', 'GET, HEAD').status(405).type('text/plain').send('method not allowed\n');
      return;
    }
    next();
  });

  // /healthz stays open for liveness probes (it says "ok" and nothing else); everything else is behind auth.
  app.get('/healthz', (_req: Request, res: Response) => {
    res.type('text/plain').send('ok\n');
  });
  if (deps.auth) app.use(deps.auth.middleware());

  app.get(deps.telemetryPath, (req: Request, res: Response) => {
    if (inFlight >= deps.maxRequests) {
      res.status(503).type('text/plain').send('too many concurrent scrapes\n');
      return;
    }
    inFlight++;
    const format = negotiate(req.get('accept'));
    deps.exposition
      .render(format)
      .then((body) => {
        res.set('Content-Type', deps.exposition.contentType(format)).send(body);
      })
      .catch((err: unknown) => {
        deps.log.error('rendering metrics failed', { err: String(err) });
        res.status(500).type('text/plain').send('rendering metrics failed\n');
      })
      .finally(() => inFlight--);
  });

  app.get('/', (_req: Request, res: Response) => {
    if (deps.state) {
      res.set(
        'Content-Security-Policy',
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
      );
      res.type('html').send(landingPage(deps.telemetryPath));
      return;
    }
    const path = escapeHtml('.' + deps.telemetryPath);
    res
      .type('html')
      .send(
        `<!doctype html><html><head><meta charset="utf-8"><title>mountstorm</title></head><body>` +
          `<h1>mountstorm ${escapeHtml(deps.version)}</h1><p>Prometheus exporter for Linux mount storms.</p>` +
          `<ul><li><a href="${path}">Metrics</a></li><li><a href="./healthz">Health</a></li></ul></body></html>\n`,
      );
  });

  app.get('/api/state', (_req: Request, res: Response) => {
    if (!deps.state) {
      res.status(404).type('text/plain').send('not found\n');
      return;
    }
    res.set('Cache-Control', 'no-store').json(deps.state.state());
  });

  app.use((_req: Request, res: Response) => {
    res.status(404).type('text/plain').send('not found\n');
  });

  // Malformed requests (bad URL encoding and the like) get a 400, never a stack trace.
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) deps.log.error('request failed', { err: err.message });
    res
      .status(status)
      .type('text/plain')
      .send(status === 500 ? 'internal error\n' : 'bad request\n');
  });
  return app;
}
