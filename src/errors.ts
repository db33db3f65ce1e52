/** The exporter's error catalogue: every error that crosses a module boundary is one of these. */

export abstract class MountstormError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A flag, environment variable or config file value is wrong; the message names it. */
export class ConfigError extends MountstormError {
  readonly code = 'E_CONFIG';
}

/** Kernel text that does not have the shape the kernel documents; names the source and line. */
export class ParseError extends MountstormError {
  readonly code = 'E_PARSE';
  constructor(
    readonly source: string,
    readonly line: number,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}:${line}: ${reason}`, options);
  }
}

/** A probe did not come back within its timeout: the kernel stalled it. */
export class ProbeTimeoutError extends MountstormError {
  readonly code = 'E_PROBE_TIMEOUT';
}

/** The running kernel or privileges lack something a command needs; the message says what would work. */
export class UnsupportedError extends MountstormError {
  readonly code = 'E_UNSUPPORTED';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** errno code of a Node system error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
