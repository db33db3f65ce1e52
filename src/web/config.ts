/**
 * The web configuration file (`--web.config.file`), in the format of the Prometheus exporter-toolkit
 * that node_exporter uses, so the same file serves both:
 *
 *   tls_server_config:
 *     cert_file: server.crt          # paths relative to this file
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert   # optional
 *     client_ca_file: ca.crt                         # optional
 *     min_version: TLS12                             # optional: TLS10..TLS13
 *   basic_auth_users:
 *     prometheus: $2y$10$...          # bcrypt hashes only
 *
 * Parsed and validated whole (files read), so a bad file is one clear ConfigError and nothing
 * half-applied.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseYamlMapping, readSettingsFile } from '../yaml-mapping';
import { errorMessage } from '../errors';

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];
const TLS_VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

export interface TlsSettings {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  clientAuth: ClientAuthType;
  minVersion: (typeof TLS_VERSIONS)[keyof typeof TLS_VERSIONS];
  /** The files read, watched for changes. */
  files: string[];
}

export interface WebConfig {
  tls?: TlsSettings;
  /** user → bcrypt hash */
  users: Map<string, string>;
  file: string;
}

const BCRYPT = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

export function parseWebConfig(text: string, file: string): WebConfig {
  const { doc: d, fail } = parseYamlMapping(text, file);
  if (d === undefined) return { users: new Map(), file };
  for (const key of Object.keys(d)) {
    if (!['tls_server_config', 'basic_auth_users', 'http_server_config'].includes(key))
      throw fail(`unknown key "${key}"`);
  }
  if (d.http_server_config !== undefined && d.http_server_config !== null) {
    const h = d.http_server_config as Record<string, unknown>;
    if (typeof h !== 'object' || Object.keys(h).some((k) => k !== 'http2'))
      throw fail('http_server_config: only http2 is accepted (and ignored)');
  }
  const dir = path.dirname(path.resolve(file));
  const readFile = (p: unknown, what: string): { data: Buffer; path: string } => {
    if (typeof p !== 'string' || p === '' || p.includes('\0'))
      throw fail(`tls_server_config.${what} must be a file path`);
    const full = path.resolve(dir, p);
    try {
      return { data: fs.readFileSync(full), path: full };
    } catch (err) {
      throw fail(`tls_server_config.${what}: cannot read ${full}: ${errorMessage(err)}`);
    }
  };

  let tls: TlsSettings | undefined;
  if (d.tls_server_config !== undefined && d.tls_server_config !== null) {
    const t = d.tls_server_config as Record<string, unknown>;
    if (typeof t !== 'object' || Array.isArray(t)) throw fail('tls_server_config must be a mapping');
    for (const key of Object.keys(t)) {
      if (
        ![
          'cert_file',
          'key_file',
          'client_auth_type',
          'client_ca_file',
          'min_version',
          'cipher_suites',
          'curve_preferences',
          'prefer_server_cipher_suites',
          'max_version',
        ].includes(key)
      )
        throw fail(`tls_server_config: unknown key "${key}"`);
    }
    const cert = readFile(t.cert_file, 'cert_file');
    const key = readFile(t.key_file, 'key_file');
    if (!/-----BEGIN CERTIFICATE-----/.test(cert.data.toString()))
      throw fail(`tls_server_config.cert_file ${cert.path} is not a PEM certificate`);
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.data.toString()))
      throw fail(`tls_server_config.key_file ${key.path} is not a PEM private key`);
    const clientAuth = (t.client_auth_type ?? 'NoClientCert') as ClientAuthType;
    if (!CLIENT_AUTH_TYPES.includes(clientAuth))
      throw fail(`tls_server_config.client_auth_type must be one of ${CLIENT_AUTH_TYPES.join(', ')}`);
    const ca = t.client_ca_file !== undefined ? readFile(t.client_ca_file, 'client_ca_file') : undefined;
    if ((clientAuth === 'RequireAndVerifyClientCert' || clientAuth === 'VerifyClientCertIfGiven') && !ca)
      throw fail(`tls_server_config.client_auth_type ${clientAuth} needs client_ca_file`);
    const mv = (t.min_version ?? 'TLS12') as keyof typeof TLS_VERSIONS;
    if (!(mv in TLS_VERSIONS))
      throw fail(`tls_server_config.min_version must be one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
    tls = {
      cert: cert.data,
      key: key.data,
      ca: ca?.data,
      clientAuth,
      minVersion: TLS_VERSIONS[mv],
      files: [cert.path, key.path, ...(ca ? [ca.path] : [])],
    };
  }

  const users = new Map<string, string>();
  if (d.basic_auth_users !== undefined && d.basic_auth_users !== null) {
    const u = d.basic_auth_users as Record<string, unknown>;
    if (typeof u !== 'object' || Array.isArray(u))
      throw fail('basic_auth_users must be a mapping of user names to bcrypt hashes');
    for (const [name, hash] of Object.entries(u)) {
      if (name === '' || name.includes(':')) throw fail(`basic_auth_users: bad user name ${JSON.stringify(name)}`);
      if (typeof hash !== 'string' || !BCRYPT.test(hash))
        throw fail(`basic_auth_users.${name} must be a bcrypt hash ($2y$…), never a plain password`);
      users.set(name, hash);
    }
  }
  return { tls, users, file };
}

export function loadWebConfig(file: string): WebConfig {
  return parseWebConfig(readSettingsFile(file, '--web.config.file'), file);
}
