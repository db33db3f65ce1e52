import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../src/errors';
import { loadConfig, parseArgs, parseConfigFile, parseListenAddress } from '../../src/config';
import { parseDuration } from '../../src/flags';

const tmp = fs.mkdtempSync('/tmp/mountstorm-config-');
afterAll(() => fs.rmSync(tmp, { recursive: true }));

describe('flags', () => {
  test('defaults', () => {
    const c = loadConfig(parseArgs([]), {});
    expect(c.web.listenAddress).toBe(':9866');
    expect(c.web.telemetryPath).toBe('/metrics');
    expect(c.sampleIntervalMs).toBe(1000);
    expect(c.mountPid).toBe('1');
    expect(c.collectors).toEqual({
      mounts: true,
      probes: true,
      namespaces: true,
      cpu: true,
      host: true,
      tracefs: true,
      containers: true,
    });
    expect(c.collectorOptions.containers).toEqual({
      dirs: [
        { layout: 'containerd', dir: '/run/containerd/io.containerd.runtime.v2.task' },
        { layout: 'containers-storage', dir: '/var/lib/containers/storage' },
        { layout: 'containers-storage', dir: '/run/containers/storage' },
      ],
      readBundles: true,
      imageSeries: 10,
    });
    expect(c.collectorOptions.tracefs).toEqual({
      path: undefined,
      readers: false,
      bufferSizeKb: 'auto',
      topProcesses: 10,
      format: 'auto',
      mode: 'on-demand',
      calmMs: 60_000,
    });
    expect(c.collectorOptions.namespaces).toEqual({ events: 'node', stormRate: 500, leakScanMs: 30_000 });
    expect(c.collectorOptions.mounts).toEqual({ method: 'auto', idmapLingerMs: 60_000 });
    expect(c.collectorOptions.probes).toEqual({
      timeoutMs: 10_000,
      statPath: undefined,
      statBatch: 32,
      baselineWindowMs: 1_800_000,
    });
    expect(Object.isFrozen(c) && Object.isFrozen(c.web) && Object.isFrozen(c.collectors)).toBe(true);
  });

  test('node_exporter style: --a=b, --a b, --no-collector.x, repeatable lists', () => {
    const c = loadConfig(
      parseArgs([
        '--sample.interval=500ms',
        '--path.procfs',
        '/host/proc',
        '--no-collector.cpu',
        '--collector.containers.task-dir=/a',
        '--collector.containers.task-dir',
        '/b',
      ]),
      {},
    );
    expect(c.sampleIntervalMs).toBe(500);
    expect(c.paths.procfs).toBe('/host/proc');
    expect(c.collectors.cpu).toBe(false);
    expect(c.collectorOptions.containers).toEqual({
      dirs: [
        { layout: 'containerd', dir: '/a' },
        { layout: 'containerd', dir: '/b' },
        { layout: 'containers-storage', dir: '/var/lib/containers/storage' },
        { layout: 'containers-storage', dir: '/run/containers/storage' },
      ],
      readBundles: true,
      imageSeries: 10,
    });
  });

  test.each([
    [['--nope'], /unknown flag --nope/],
    [['--sample.interval=fast'], /sample.interval: must be a duration/],
    [['--sample.interval=10ms'], /at least 100ms/],
    [['--mount.pid=0'], /mount.pid: must be a positive PID/],
    [['--web.listen-address=9866'], /web.listen-address: must be host:port/],
    [['--log.level=loud'], /log.level: must be one of/],
    [['--collector.tracefs.buffer-size=8'], /buffer-size: must be between 16 and 1048576 KiB/],
    [['--collector.tracefs.buffer-size=big'], /buffer-size: must be auto or a size in KiB/],
    [['--collector.tracefs.mode=sometimes'], /tracefs.mode: must be on-demand or always/],
    [['--collector.namespaces.events=all'], /namespaces.events: must be node, watched or off/],
    [['--collector.tracefs.top-processes=-1'], /top-processes: must be between 0 and 100/],
    [['--collector.tracefs.format=binary'], /tracefs.format: must be auto, raw or text/],
    [['--no-sample.interval'], /only boolean flags/],
    [['--web.telemetry-path=/'], /telemetry-path/],
    [['--path.procfs'], /needs a value/],
  ])('%j is a ConfigError naming it', (argv, msg) => {
    expect(() => loadConfig(parseArgs(argv), {})).toThrow(ConfigError);
    expect(() => loadConfig(parseArgs(argv), {})).toThrow(msg);
  });

  test('durations and listen addresses', () => {
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120000);
    expect(parseDuration('1')).toBeUndefined();
    expect(parseListenAddress(':9866')).toEqual({ host: undefined, port: 9866 });
    expect(parseListenAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListenAddress('127.0.0.1:70000')).toBeUndefined();
  });
});

describe('config file and environment', () => {
  test('precedence: flag > environment > file > default', () => {
    const file = path.join(tmp, 'a.yaml');
    fs.writeFileSync(file, 'sample.interval: 2s\nmount.pid: 42\nlog.level: debug\ncollector.host: false\n');
    const env = { MOUNTSTORM_MOUNT_PID: '7', MOUNTSTORM_LOG_LEVEL: 'warn' };
    const c = loadConfig(parseArgs([`--config.file=${file}`, '--log.level=error']), env);
    expect(c.sampleIntervalMs).toBe(2000); // file
    expect(c.mountPid).toBe('7'); // env over file
    expect(c.logLevel).toBe('error'); // flag over env
    expect(c.collectors.host).toBe(false);
    expect(c.collectors.cpu).toBe(true); // default
  });

  test.each([
    ['sample.intervall: 1s\n', /unknown key "sample.intervall"/],
    ['sample.interval: soon\n', /b.yaml: sample.interval: must be a duration/],
    ['collector.cpu: maybe\n', /collector.cpu: must be true or false/],
    ['- a\n- b\n', /must be a mapping/],
    ['a: [\n', /not valid YAML/],
    ['config.file: /x\n', /unknown key "config.file"/],
  ])('broken file %j is a clear error', (text, msg) => {
    expect(() => parseConfigFile(text, path.join(tmp, 'b.yaml'))).toThrow(msg);
  });

  test('an unreadable config file is a ConfigError', () => {
    expect(() => loadConfig(parseArgs(['--config.file=/nonexistent/x.yaml']), {})).toThrow(
      /cannot read \/nonexistent\/x.yaml/,
    );
  });

  test('a bad environment value names the variable', () => {
    expect(() => loadConfig(parseArgs([]), { MOUNTSTORM_SAMPLE_INTERVAL: 'x' })).toThrow(
      /environment MOUNTSTORM_SAMPLE_INTERVAL/,
    );
  });
});
