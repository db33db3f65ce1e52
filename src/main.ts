/**
 * Wires the exporter: collectors, sampler, HTTP server. `serve` returns a handle whose `close()`
 * stops everything it started (server, timers, watchers, the probe worker).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCollectors } from './collectors';
import type { Config } from './config';
import { parseListenAddress } from './config';
import { Exposition } from './exposition';
import { HostPaths } from './fs/paths';
import type { Logger } from './log';
import { ProbeRunner } from './probes/runner';
import { Sampler } from './sampler';
import { StateRecorder } from './state/recorder';
import { createApp } from './server';
import { VERSION } from './version';

export interface Running {
  server: http.Server;
  address: AddressInfo;
  sampler: Sampler;
  close(): Promise<void>;
}

/** Bounds for slow or hostile clients: headers must arrive within 10 s, a whole request within 30 s. */
const SERVER_OPTIONS: http.ServerOptions = { maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 };

export async function serve(config: Readonly<Config>, log: Logger): Promise<Running> {
  const paths = new HostPaths(config.paths.procfs, config.paths.sysfs, config.paths.rootfs);
  const exposition = new Exposition();
  exposition
    .gauge('mountstorm_build_info', 'Version of mountstorm and of the Node.js runtime it runs on; value is 1.', ['version', 'nodejs'])
    .set({ version: VERSION, nodejs: process.version }, 1);
  const probes = new ProbeRunner(config.probes.timeoutMs);
  const ctx = { config, paths, log, exposition, probes, mountinfoPath: paths.proc(config.mountPid, 'mountinfo') };
  const collectors = createCollectors(ctx);
  const sampler = new Sampler(collectors, exposition, log, config.sampleIntervalMs, config.sampleTimeoutMs);

  const state = new StateRecorder(exposition, config.sampleIntervalMs, VERSION);
  sampler.onSample(() => state.record());
  const app = createApp({ exposition, telemetryPath: config.web.telemetryPath, maxRequests: config.web.maxRequests, log, version: VERSION, state });
  const server = http.createServer(SERVER_OPTIONS, app);
  server.maxRequestsPerSocket = 1000;
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
  log.info('listening', { address: `${address.address}:${address.port}`, telemetry_path: config.web.telemetryPath, collectors: collectors.map((c) => c.name).join(',') });
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
        await sampler.stop();
        await probes.close();
      })();
      return closing;
    },
  };
}
