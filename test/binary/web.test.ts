/**
 * The exporter-toolkit web config file (TLS, basic auth): parsing with certificates made by openssl,
 * and a broken file stopping the built exporter at start. Served and scraped: test/e2e/web.test.ts.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { ConfigError } from '../../src/errors';
import { parseWebConfig } from '../../src/web/config';
import { CLI, hasCommand, requireInCi } from '../support/env';
import { makeCerts } from '../support/certs';

requireInCi(hasCommand('openssl'), 'openssl');
const HASH = bcrypt.hashSync('s3cret', 10);

describe('web config file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-webcfg-'));
  beforeAll(() => {
    if (hasCommand('openssl')) makeCerts(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = () => path.join(dir, 'web.yml');

  test.each([
    ['nope: 1', /unknown key "nope"/],
    ['basic_auth_users: {prom: s3cret}', /must be a bcrypt hash/],
    ['basic_auth_users: [a]', /must be a mapping/],
    ['tls_server_config: {cert_file: missing.crt, key_file: server.key}', /cert_file: cannot read .*missing\.crt/],
    ['tls_server_config: {cert_file: server.key, key_file: server.key}', /is not a PEM certificate/],
    [
      'tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: Sometimes}',
      /client_auth_type must be one of/,
    ],
    [
      'tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAndVerifyClientCert}',
      /needs client_ca_file/,
    ],
    [
      'tls_server_config: {cert_file: server.crt, key_file: server.key, min_version: SSL3}',
      /min_version must be one of/,
    ],
    ['{{{', /not valid YAML/],
  ])('%s → ConfigError', (text, why) => {
    expect(() => parseWebConfig(text, file())).toThrow(ConfigError);
    expect(() => parseWebConfig(text, file())).toThrow(why);
  });

  test('paths are relative to the file; empty file means plain HTTP without auth', () => {
    const c = parseWebConfig(
      `tls_server_config: {cert_file: server.crt, key_file: server.key}\nbasic_auth_users: {prom: '${HASH}'}`,
      file(),
    );
    expect(c.tls?.files).toEqual([path.join(dir, 'server.crt'), path.join(dir, 'server.key')]);
    expect(c.tls?.minVersion).toBe('TLSv1.2');
    expect([...c.users.keys()]).toEqual(['prom']);
    expect(parseWebConfig('', file())).toEqual({ users: new Map(), file: file() });
  });

  test('a broken web config stops the exporter at start with exit 2, naming the file', () => {
    fs.writeFileSync(file(), 'basic_auth_users: {prom: plain}\n');
    let status = 0;
    let stderr = '';
    try {
      execFileSync(
        process.execPath,
        [CLI, 'serve', `--web.config.file=${file()}`, '--web.listen-address=127.0.0.1:0'],
        { stdio: 'pipe' },
      );
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toContain(`${file()}: basic_auth_users.prom must be a bcrypt hash`);
  });
});
