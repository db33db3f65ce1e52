/**
 * A settings file in YAML whose top level must be a mapping (the flags' --config.file, the web
 * config, the alerts config, the Alertmanager client config): read, and parsed with the core
 * schema, or a ConfigError naming the file.
 */
import * as fs from 'node:fs';
import { ConfigError, errorMessage } from './errors';

/** The file's text; a ConfigError `<what>: cannot read <file>: …` otherwise. */
export function readSettingsFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The file's top-level mapping (undefined for an empty file), and a ConfigError maker naming the
 * file; `mapping` says what the top level must be.
 */
export function parseYamlMapping(
  text: string,
  file: string,
  mapping = 'a mapping',
): { doc: Record<string, unknown> | undefined; fail: (why: string) => ConfigError } {
  // Loaded at the first settings file, not at import: a node run on flags alone never needs it (#32).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- synchronous, and only when a file is read
  const yaml = require('js-yaml') as typeof import('js-yaml');
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file, schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${errorMessage(err)}`, { cause: err });
  }
  const fail = (why: string) => new ConfigError(`${file}: ${why}`);
  if (doc === null || doc === undefined) return { doc: undefined, fail };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw fail(`must be ${mapping}`);
  return { doc: doc as Record<string, unknown>, fail };
}
