/**
 * `--alertmanager.config.file`: how the exporter reaches its Alertmanagers, in the shape of
 * Prometheus's alertmanager_config (paths relative to this file):
 *
 *   timeout: 5s
 *   tls_config: { ca_file: ca.crt, cert_file: client.crt, key_file: client.key, server_name: am, insecure_skip_verify: false }
 *   basic_auth: { username: mountstorm, password_file: /etc/mountstorm/am-password }
 *   authorization: { type: Bearer, credentials_file: /var/run/secrets/am-token }   # or bearer_token_file
 *
 * Parsed and validated whole, every file read, so a bad file is one ConfigError naming it and a
 * reload that fails keeps the settings in force.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseYamlMapping, readSettingsFile } from '../yaml-mapping';
import { ConfigError, errorMessage } from '../errors';
import { parseDuration } from '../flags';

export interface ClientConfig {
  timeoutMs: number;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string; rejectUnauthorized: boolean };
  /** The Authorization header's value, if any. */
  authorization?: string;
  /** The config file and every file it names: watched for changes. */
  files: string[];
  file?: string;
}

export const DEFAULT_CLIENT_CONFIG: ClientConfig = Object.freeze({
  timeoutMs: 5000,
  tls: { rejectUnauthorized: true },
  files: [],
});

const KEYS = ['timeout', 'tls_config', 'basic_auth', 'authorization', 'bearer_token_file'];

export function parseClientConfig(text: string, file: string): ClientConfig {
  const { doc: d, fail } = parseYamlMapping(text, file);
  const out: ClientConfig = {
    timeoutMs: DEFAULT_CLIENT_CONFIG.timeoutMs,
    tls: { rejectUnauthorized: true },
    files: [path.resolve(file)],
    file,
  };
  if (d === undefined) return out;
  for (const k of Object.keys(d)) if (!KEYS.includes(k)) throw fail(`unknown key "${k}" (known: ${KEYS.join(', ')})`);
  const dir = path.dirname(path.resolve(file));
  const mapping = (v: unknown, what: string, keys: string[]): Record<string, unknown> => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw fail(`${what} must be a mapping`);
    for (const k of Object.keys(v))
      if (!keys.includes(k)) throw fail(`${what}: unknown key "${k}" (known: ${keys.join(', ')})`);
    return v as Record<string, unknown>;
  };
  const read = (p: unknown, what: string): Buffer => {
    if (typeof p !== 'string' || p === '' || p.includes('\0')) throw fail(`${what} must be a file path`);
    const full = path.resolve(dir, p);
    try {
      const data = fs.readFileSync(full);
      out.files.push(full);
      return data;
    } catch (err) {
      throw fail(`${what}: cannot read ${full}: ${errorMessage(err)}`);
    }
  };
  const secret = (p: unknown, what: string): string => {
    const s = read(p, what).toString('utf8').trim();
    if (s === '' || /[\r\n]/.test(s)) throw fail(`${what}: the file must hold one non-empty line`);
    return s;
  };
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v === '' || /[\r\n\0]/.test(v))
      throw fail(`${what} must be a non-empty single-line string`);
    return v;
  };

  if (d.timeout !== undefined) {
    const ms = typeof d.timeout === 'string' ? parseDuration(d.timeout) : undefined;
    if (ms === undefined || ms <= 0 || ms > 60_000)
      throw fail(`timeout must be a duration up to 1m, such as 5s (got ${JSON.stringify(d.timeout)})`);
    out.timeoutMs = ms;
  }
  if (d.tls_config !== undefined) {
    const t = mapping(d.tls_config, 'tls_config', [
      'ca_file',
      'cert_file',
      'key_file',
      'server_name',
      'insecure_skip_verify',
    ]);
    if (t.ca_file !== undefined) out.tls.ca = read(t.ca_file, 'tls_config.ca_file');
    if ((t.cert_file === undefined) !== (t.key_file === undefined))
      throw fail('tls_config: cert_file and key_file go together');
    if (t.cert_file !== undefined) {
      out.tls.cert = read(t.cert_file, 'tls_config.cert_file');
      out.tls.key = read(t.key_file, 'tls_config.key_file');
    }
    if (t.server_name !== undefined) out.tls.servername = str(t.server_name, 'tls_config.server_name');
    if (t.insecure_skip_verify !== undefined) {
      if (typeof t.insecure_skip_verify !== 'boolean')
        throw fail('tls_config.insecure_skip_verify must be true or false');
      out.tls.rejectUnauthorized = !t.insecure_skip_verify;
    }
  }
  const auths = ['basic_auth', 'authorization', 'bearer_token_file'].filter((k) => d[k] !== undefined);
  if (auths.length > 1)
    throw fail(`at most one of basic_auth, authorization, bearer_token_file (got ${auths.join(', ')})`);
  if (d.basic_auth !== undefined) {
    const b = mapping(d.basic_auth, 'basic_auth', ['username', 'password', 'password_file']);
    const user = str(b.username, 'basic_auth.username');
    if (user.includes(':')) throw fail('basic_auth.username must not contain ":"');
    if (b.password !== undefined && b.password_file !== undefined)
      throw fail('basic_auth: password or password_file, not both');
    const pass =
      b.password_file !== undefined
        ? secret(b.password_file, 'basic_auth.password_file')
        : b.password !== undefined
          ? str(b.password, 'basic_auth.password')
          : '';
    out.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  if (d.authorization !== undefined) {
    const a = mapping(d.authorization, 'authorization', ['type', 'credentials', 'credentials_file']);
    const type = a.type === undefined ? 'Bearer' : str(a.type, 'authorization.type');
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(type) || type.toLowerCase() === 'basic')
      throw fail('authorization.type must be a scheme name such as Bearer (use basic_auth for Basic)');
    if ((a.credentials === undefined) === (a.credentials_file === undefined))
      throw fail('authorization: exactly one of credentials, credentials_file');
    const cred =
      a.credentials_file !== undefined
        ? secret(a.credentials_file, 'authorization.credentials_file')
        : str(a.credentials, 'authorization.credentials');
    out.authorization = `${type} ${cred}`;
  }
  if (d.bearer_token_file !== undefined)
    out.authorization = `Bearer ${secret(d.bearer_token_file, 'bearer_token_file')}`;
  return out;
}

export function loadClientConfig(file: string): ClientConfig {
  return parseClientConfig(readSettingsFile(file, '--alertmanager.config.file'), file);
}

/** An Alertmanager URL as --alertmanager.url takes it: http(s), no credentials, no query; a ConfigError otherwise. */
export function parseAlertmanagerUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`--alertmanager.url: not a URL: ${JSON.stringify(raw)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError(`--alertmanager.url: must be http:// or https:// (got ${JSON.stringify(raw)})`);
  if (u.username || u.password)
    throw new ConfigError('--alertmanager.url: credentials go in --alertmanager.config.file, not in the URL');
  if (u.search || u.hash)
    throw new ConfigError(`--alertmanager.url: no query or fragment (got ${JSON.stringify(raw)})`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}
