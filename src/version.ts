import * as path from 'node:path';
import * as fs from 'node:fs';

/** The package version, read from package.json next to the build (dist/src → ../../package.json). */
export const VERSION: string = (() => {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, rel), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mountstorm' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
})();
