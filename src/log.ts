/**
 * logfmt lines on stderr, as node_exporter writes them: `ts=… level=… msg="…" key=value`.
 * `onceper(cause)` keeps a failing source from logging every sample: the first failure of a cause is
 * logged, repeats are counted, and recovery is logged once.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

type Fields = Record<string, string | number | boolean | undefined>;

function quote(v: string): string {
  return /^[A-Za-z0-9_.:/@+-]+$/.test(v) ? v : JSON.stringify(v);
}

export class Logger {
  private readonly minRank: number;
  private readonly failing = new Map<string, string>();

  constructor(
    level: LogLevel = 'info',
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
    private readonly base: Fields = {},
  ) {
    this.minRank = LOG_LEVELS.indexOf(level);
  }

  child(fields: Fields): Logger {
    return new Logger(LOG_LEVELS[this.minRank], this.write, { ...this.base, ...fields });
  }

  log(level: LogLevel, msg: string, fields: Fields = {}): void {
    if (LOG_LEVELS.indexOf(level) < this.minRank) return;
    const all: Fields = { ...this.base, ...fields };
    let line = `ts=${new Date().toISOString()} level=${level} msg=${quote(msg)}`;
    for (const [k, v] of Object.entries(all)) if (v !== undefined) line += ` ${k}=${quote(String(v))}`;
    this.write(line + '\n');
  }

  debug(msg: string, fields?: Fields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    this.log('error', msg, fields);
  }

  /** Logs a failure of `cause` only when its message changes; `recovered(cause)` logs the end of it. */
  failure(cause: string, level: LogLevel, msg: string, fields: Fields = {}): void {
    if (this.failing.get(cause) === msg) return;
    this.failing.set(cause, msg);
    this.log(level, msg, { ...fields, cause });
  }

  recovered(cause: string, msg: string): void {
    if (!this.failing.delete(cause)) return;
    this.log('info', msg, { cause });
  }
}
