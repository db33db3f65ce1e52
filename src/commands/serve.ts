/**
 * `mountstorm serve` (the default command): the exporter, until SIGTERM or SIGINT. Only this module
 * and the wiring it starts (src/main.ts) load on the serving path.
 */
import { FLAGS, loadConfig, parseArgs } from '../config';
import { ConfigError } from '../errors';
import { flagsHelp } from '../flags';
import { Logger } from '../log';
import { serve } from '../main';
import { VERSION } from '../version';

/** `usage` is the command line's own (it lists every command); serve's --help adds its flags. */
export async function serveCommand(rest: string[], usage: string): Promise<number> {
  const args = parseArgs(rest);
  if (args.help) {
    process.stdout.write(usage + flagsHelp(FLAGS) + '\n');
    return 0;
  }
  if (args.version) {
    process.stdout.write(`mountstorm ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  if (args.positionals.length > 0) throw new ConfigError(`unexpected argument "${args.positionals[0]}"`);
  const config = loadConfig(args);
  const log = new Logger(config.logLevel);
  // Signal handlers go in before anything starts, so a SIGTERM during start-up still shuts down cleanly.
  let signalled: string | undefined;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (sig: string) => {
    if (signalled) return;
    signalled = sig;
    // A kernel stall must not keep the process from exiting. Node's own exit joins every worker
    // thread, and one stuck in a syscall (a table reading behind a storm) never comes back, so
    // after 5 s the process runs its 'exit' handlers (the trace instance is removed there) and
    // kills itself. The timer holds the event loop open until then: an empty loop would exit, and join.
    setTimeout(() => {
      log.error('still stuck in the kernel 5 s after the signal: killing the process', { signal: sig });
      for (const listener of process.listeners('exit')) listener(1);
      process.kill(process.pid, 'SIGKILL');
    }, 5000);
    wake();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const running = await serve(config, log);
  await stopped;
  log.info('shutting down', { signal: signalled });
  await running.close();
  return 0;
}
