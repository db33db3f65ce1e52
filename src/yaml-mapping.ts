/**
 * A settings file in YAML whose top level must be a mapping (the web config, the alerts config, the
 * Alertmanager client config): parsed with the core schema, or a ConfigError naming the file.
 */
import * as yaml from 'js-yaml';
import { ConfigError, errorMessage } from './errors';

/** The file's top-level mapping (undefined for an empty file), and a ConfigError maker naming the file. */
export function parseYamlMapping(text: string, file: string): { doc: Record<string, unknown> | undefined; fail: (why: string) => ConfigError } {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file, schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${errorMessage(err)}`, { cause: err });
  }
  const fail = (why: string) => new ConfigError(`${file}: ${why}`);
  if (doc === null || doc === undefined) return { doc: undefined, fail };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw fail('must be a mapping');
  return { doc: doc as Record<string, unknown>, fail };
}
