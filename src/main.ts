/**
 * Wires the exporter: collectors, sampler, HTTP server. `serve` returns a handle whose `close()`
 * stops everything it started (server, timers, watchers, the probe worker).
 */
import * as http from 'node:http';
import * as https from 'node:https';
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
import { Sampler } from './sample/sampler';
import { KernelEventsThread } from './sources/kernel-events/source';
import { MountLocksThread } from './sources/mount-locks/source';
import { NodeStateView } from './landing/node-state';
import { createApp } from './server';
import { VERSION } from './version';
import { errorMessage } from './errors';
import { WebAuth } from './web/auth';
import { loadWebConfig, type TlsSettings, type WebConfig } from './web/config';
import { DEFAULT_ALERTS_CONFIG, loadAlertsConfig } from './alerts/config';
import { TracingArmingPolicy } from './alerts/arming';
import { Evaluator } from './alerts/evaluate';
import { PageCapabilityGauge } from './alerts/capability';
import { watchFiles, type FileWatch } from './fs/watch';
import { DEFAULT_CLIENT_CONFIG, loadClientConfig, parseAlertmanagerUrl, type ClientConfig } from './notify/config';
import { Notifier } from './notify/notifier';
import { History } from './sample/history';

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
const SERVER_OPTIONS: http.ServerOptions = {
  maxHeaderSize: 16 * 1024,
  requestTimeout: 30_000,
  headersTimeout: 10_000,
  keepAliveTimeout: 5_000,
  connectionsCheckingInterval: 1_000,
};
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
function watchWebConfig(current: WebConfig, server: http.Server, auth: WebAuth, log: Logger): FileWatch {
  let active = current;
  const files = () => [active.file, ...(active.tls?.files ?? [])];
  return watchFiles(files(), () => {
    let next: WebConfig;
    try {
      next = loadWebConfig(active.file);
    } catch (err) {
      log.error('web config reload failed; keeping the previous settings', { err: errorMessage(err) });
      return files();
    }
    if (
      Boolean(next.tls) !== Boolean(active.tls) ||
      (next.tls && active.tls && next.tls.clientAuth !== active.tls.clientAuth)
    ) {
      log.error(
        'web config reload: turning TLS on or off, or changing client_auth_type, needs a restart; keeping the previous settings',
        { file: active.file },
      );
      return files();
    }
    if (next.tls) (server as https.Server).setSecureContext(tlsOptions(next.tls));
    auth.update(next.users, next.tls?.clientAuth ?? 'NoClientCert');
    active = next;
    log.info('web config reloaded', {
      file: active.file,
      tls: Boolean(active.tls),
      basic_auth_users: active.users.size,
    });
    return files();
  });
}

/** Re-reads --alertmanager.config.file when it or a file it names changes; a bad one keeps the settings in force. */
function watchClientConfig(current: ClientConfig & { file: string }, notifier: Notifier, log: Logger): FileWatch {
  let active = current;
  return watchFiles(active.files, () => {
    try {
      active = { ...loadClientConfig(active.file), file: active.file };
    } catch (err) {
      log.error('alertmanager config reload failed; keeping the previous settings', { err: errorMessage(err) });
      return active.files;
    }
    notifier.setClient(active);
    log.info('alertmanager config reloaded', { file: active.file });
    return active.files;
  });
}

/** The enabled collectors, in the order of COLLECTORS. */
/** The enabled collectors, each given its own options. */
export function createCollectors(config: Readonly<Config>, ctx: CollectorContext): Collector[] {
  return COLLECTORS.filter((d) => config.collectors[d.name]).map((d) =>
    d.create(ctx, config.collectorOptions[d.name] as object),
  );
}

export async function serve(config: Readonly<Config>, log: Logger): Promise<Running> {
  // A bad web config stops the start (ConfigError), before anything else is set up.
  const webConfig = config.web.configFile !== undefined ? loadWebConfig(config.web.configFile) : undefined;
  const alertsConfig =
    config.alertsConfigFile !== undefined ? loadAlertsConfig(config.alertsConfigFile) : DEFAULT_ALERTS_CONFIG;
  const am = config.alertmanager;
  const clientConfig =
    am.configFile !== undefined ? { ...loadClientConfig(am.configFile), file: am.configFile } : undefined;
  const paths = new HostPaths(config.paths.procfs, config.paths.sysfs, config.paths.rootfs);
  const exposition = new Exposition(VERSION);
  const ctx: CollectorContext = {
    paths,
    mountPid: config.mountPid,
    sampleIntervalMs: config.sampleIntervalMs,
    log,
    exposition,
    mountinfoPath: paths.proc(config.mountPid, 'mountinfo'),
    threads: { mountLocks: new MountLocksThread(), kernelEvents: new KernelEventsThread() },
  };
  const collectors = createCollectors(config, ctx);
  const sampler = new Sampler(collectors, exposition, log, config.sampleIntervalMs, config.sampleTimeoutMs);

  // The node's samples, its own evaluation of the storm alerts, and (with --alertmanager.url) its page.
  const history = new History();
  const evaluator = new Evaluator(alertsConfig, am.instance, exposition, config.sampleIntervalMs);
  const notifier =
    am.urls.length > 0
      ? new Notifier(
          {
            urls: am.urls.map(parseAlertmanagerUrl),
            client: clientConfig ?? DEFAULT_CLIENT_CONFIG,
            instance: am.instance,
            labels: am.labels,
            resendMs: am.resendMs,
            log,
            exposition,
          },
          VERSION,
        )
      : undefined;
  const capability = new PageCapabilityGauge(exposition, (c) => {
    if (c.capable)
      log.info('the storm page can fire here: mount signature, container starts and lock wait are all seen');
    else
      log.warn('the storm page cannot fire here', {
        missing: c.blockers.map((b) => b.reason).join(','),
        why: c.blockers.map((b) => b.why).join('; '),
      });
  });
  const state = new NodeStateView(
    history,
    evaluator,
    alertsConfig,
    config.sampleIntervalMs,
    VERSION,
    () => capability.current,
  );
  const phases = new Map<string, string>();
  sampler.onSample((sample) => {
    history.add(sample);
    capability.update(sample);
    const alerts = evaluator.evaluate(history);
    for (const a of alerts) {
      const was = phases.get(a.name) ?? 'inactive';
      if (a.phase === was) continue;
      phases.set(a.name, a.phase);
      if (a.phase === 'firing')
        log.warn('node alert firing', { alertname: a.name, severity: a.severity, description: a.description });
      else if (was === 'firing') log.info('node alert resolved', { alertname: a.name });
    }
    notifier?.update(alerts);
  });
  // On-demand tracing listens to the cheap signals: mount events as they come, each whole sample
  // (after the history above has it: the start rate is read from there).
  const tracefs = collectors.find((c): c is TracefsCollector => c instanceof TracefsCollector);
  if (tracefs) {
    const arming = new TracingArmingPolicy((reason) => tracefs.hint(reason), history, alertsConfig);
    sampler.onSample((sample) => arming.observe(sample));
    for (const c of collectors) if (c instanceof NamespacesCollector) c.onStorm((rate) => arming.mountEvents(rate));
  }
  const auth = webConfig ? new WebAuth(webConfig.users, webConfig.tls?.clientAuth ?? 'NoClientCert') : undefined;
  const app = createApp({
    exposition,
    telemetryPath: config.web.telemetryPath,
    maxRequests: config.web.maxRequests,
    log,
    version: VERSION,
    state,
    auth,
  });
  const server: http.Server = webConfig?.tls
    ? https.createServer({ ...SERVER_OPTIONS, ...tlsOptions(webConfig.tls) }, app)
    : http.createServer(SERVER_OPTIONS, app);
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
  const clientWatcher = clientConfig && notifier ? watchClientConfig(clientConfig, notifier, log) : undefined;
  if (notifier)
    log.info('posting node alerts to Alertmanager', {
      alertmanagers: am.urls.join(','),
      instance: am.instance,
      alerts: evaluator.alerts.map((a) => a.name).join(','),
    });
  log.info('listening', {
    address: `${address.address}:${address.port}`,
    telemetry_path: config.web.telemetryPath,
    tls: Boolean(webConfig?.tls),
    basic_auth: Boolean(auth?.enabled),
    collectors: collectors.map((c) => c.name).join(','),
  });
  // The first sample completes before scrapes see data; the loop keeps its cadence after it.
  await sampler.start();
  notifier?.start();

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
        await clientWatcher?.close();
        await sampler.stop();
        await Promise.all([ctx.threads.mountLocks.close(), ctx.threads.kernelEvents.close()]);
        notifier?.close();
      })();
      return closing;
    },
  };
}
