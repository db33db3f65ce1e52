/**
 * Watches a configuration file and the files it names, and calls `reload` once a burst of changes
 * has settled. `reload` returns the files to watch from then on (a reload that failed returns the
 * old ones: the settings in force stay, and so do their files).
 */
import { watch } from 'chokidar';

export interface FileWatch {
  close(): Promise<void>;
}

export function watchFiles(initial: readonly string[], reload: () => readonly string[]): FileWatch {
  let files = [...initial];
  const watcher = watch(files, {
    ignoreInitial: true,
    awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 },
  });
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  watcher.on('all', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (closed) return;
      const next = [...reload()];
      watcher.unwatch(files);
      files = next;
      watcher.add(files);
    }, 100);
  });
  return {
    async close() {
      closed = true;
      clearTimeout(timer); // a reload due after close would re-add watches
      await watcher.close();
    },
  };
}
