import * as path from 'node:path';
import { FIXTURES } from './env';

/** Flags that point the exporter at the dual-socket fixture host. */
export const FIXTURE_ARGS = [
  `--path.procfs=${path.join(FIXTURES, 'proc')}`,
  `--path.sysfs=${path.join(FIXTURES, 'sys')}`,
  `--path.rootfs=${path.join(FIXTURES, 'rootfs')}`,
  '--sample.interval=200ms',
];
