/** Whether `p` is a directory now (following links); false when it is gone or cannot be stat'ed. */
import * as fs from 'node:fs';

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
