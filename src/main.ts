/**
 * Wires the exporter: collectors, sampler, HTTP server. `serve` returns a handle whose `close()`
 * stops everything it started (server, timers, watchers, the probe worker).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { watch } from 'chokidar';
import type { AddressInfo } from 'node:net';
import type { Collector, CollectorContext } from './collectors/collector';
import { NamespacesCollector } from './collectors/namespaces';
import { COLLECTORS } from './collectors/registry';
import { TracefsCollector } from './collectors/tracefs';
import type { Config } from './config';
import { parseListenAddress } from './config';
import { Exposition } from './exposition';
import { HostPaths } from './fs/paths';
import type { Logger } from './log';
import { Sampler } from './sampler';
import { StateRecorder } from './state/recorder';
import { createApp } from './server';
import { VERSION } from './version';
import { errorMessage } from './errors';
import { WebAuth } from './web/auth';
import { loadWebConfig, type TlsSettings, type WebConfig } from './web/config';

export interface Running {
  server: http.Server;
  address: AddressInfo;
  sampler: Sampler;
  close(): Promise<void>;
}

/**
 * Bounds for slow or hostile clients: headers (request line included) under 16 KiB and within 10 s,
 * a whole request within 30 s, checked every second (Node's default is every 30 s, which would let a
 * trickling client hold its socket for 40 s).
 */
const SERVER_OPTIONS: http.ServerOptions = { maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 };
/** Open connections beyond this are refused at accept: memory stays bounded under a connection flood. */
export const MAX_CONNECTIONS = 1024;

function tlsOptions(t: TlsSettings): https.ServerOptions {
  return {
    cert: t.cert,
    key: t.key,
    ca: t.ca,
    minVersion: t.minVersion,
    requestCert: t.clientAuth !== 'NoClientCert',
    // The "if given" and "any" modes are enforced per request by WebAuth.
    rejectUnauthorized: t.clientAuth === 'RequireAndVerifyClientCert',
  };
}

/**
 * Re-reads the web config when it or its certificate files change. A file that no longer parses is
 * logged and the running settings are kept; switching TLS on or off needs a restart.
 */
function watchWebConfig(current: WebConfig, server: http.Server, auth: WebAuth, log: Logger): { close(): Promise<void> } {
  let active = current;
  const files = () => [active.file, ...(active.tls?.files ?? [])];
  const watcher = watch(files(), { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 } });
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    let next: WebConfig;
    try {
      next = loadWebConfig(active.file);
    } catch (err) {
      log.error('web config reload failed; keeping the previous settings', { err: errorMessage(err) });
      return;
    }
    if (Boolean(next.tls) !== Boolean(active.tls) || (next.tls && active.tls && next.tls.clientAuth !== active.tls.clientAuth)) {
      log.error('web config reload: turning TLS on or off, or changing client_auth_type, needs a restart; keeping the previous settings', { file: active.file });
      return;
    }
    if (next.tls) (server as https.Server).setSecureContext(tlsOptions(next.tls));
    auth.update(next.users, next.tls?.clientAuth ?? 'NoClientCert');
    watcher.unwatch(files());
    active = next;
    watcher.add(files());
    log.info('web config reloaded', { file: active.file, tls: Boolean(active.tls), basic_auth_users: active.users.size });
  };
  watcher.on('all', () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 100);
  });
  return {
    async close() {
      clearTimeout(timer); // a reload due after close would re-add watches
      await watcher.close();
    },
  };
}

/** The enabled collectors, in the order of COLLECTORS. */
export function createCollectors(ctx: CollectorContext): Collector[] {
  return COLLECTORS.filter((d) => ctx.config.collectors[d.name]).map((d) => d.create(ctx, ctx.config.collectorOptions[d.name] as object));
}

export async function serve(config: Readonly<Config>, log: Logger): Promise<Running> {
  // A bad web config stops the start (ConfigError), before anything else is set up.
  const webConfig = config.web.configFile !== undefined ? loadWebConfig(config.web.configFile) : undefined;
  const paths = new HostPaths(config.paths.procfs, config.paths.sysfs, config.paths.rootfs);
  const exposition = new Exposition(VERSION);
  const ctx: CollectorContext = { config, paths, log, exposition, mountinfoPath: paths.proc(config.mountPid, 'mountinfo') };
  const collectors = createCollectors(ctx);
  const sampler = new Sampler(collectors, exposition, log, config.sampleIntervalMs, config.sampleTimeoutMs);

  const state = new StateRecorder(config.sampleIntervalMs, VERSION);
  sampler.onSample((sample) => state.record(sample));
  // On-demand tracing listens to the cheap signals: mount events as they come, each whole sample.
  const tracefs = collectors.find((c): c is TracefsCollector => c instanceof TracefsCollector);
  if (tracefs) {
    sampler.onSample((sample) => tracefs.observe(sample));
    for (const c of collectors) if (c instanceof NamespacesCollector) c.onStorm((rate) => tracefs.hint(`mount events at ${Math.round(rate)}/s`));
  }
  const auth = webConfig ? new WebAuth(webConfig.users, webConfig.tls?.clientAuth ?? 'NoClientCert') : undefined;
  const app = createApp({ exposition, telemetryPath: config.web.telemetryPath, maxRequests: config.web.maxRequests, log, version: VERSION, state, auth });
  const server: http.Server = webConfig?.tls ? https.createServer({ ...SERVER_OPTIONS, ...tlsOptions(webConfig.tls) }, app) : http.createServer(SERVER_OPTIONS, app);
  server.maxConnections = MAX_CONNECTIONS;
  const listen = parseListenAddress(config.web.listenAddress);
  if (!listen) throw new Error(`bad listen address ${config.web.listenAddress}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const watcher = webConfig && auth ? watchWebConfig(webConfig, server, auth, log) : undefined;
  log.info('listening', { address: `${address.address}:${address.port}`, telemetry_path: config.web.telemetryPath, tls: Boolean(webConfig?.tls), basic_auth: Boolean(auth?.enabled), collectors: collectors.map((c) => c.name).join(',') });
  // The first sample completes before scrapes see data; the loop keeps its cadence after it.
  await sampler.start();

  let closing: Promise<void> | undefined;
  return {
    server,
    address,
    sampler,
    close(): Promise<void> {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await watcher?.close();
        await sampler.stop();
      })();
      return closing;
    },
  };
}
