/**
 * The thread that reads the watched mount table. Every way of reading it takes namespace_sem, which
 * a storm holds: the read may block for seconds, so it never runs on the event loop. The thread
 * picks its method once (listmount where the kernel and privileges allow, mountinfo text otherwise)
 * and keeps the previous reading for churn.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { errnoCode, errorMessage } from '../errors';
import type { WorkerAnswer } from '../worker/call';
import { ListmountTable, MountApi, namespaceIdFor } from './listmount';
import { MountinfoTable } from './mountinfo';
import type { MountTable, TableSample } from './table';

export type TableMethodSetting = 'auto' | 'listmount' | 'mountinfo';
export interface TableWorkerData {
  mountinfoPath: string;
  method: TableMethodSetting;
  /** <procfs>/sys/fs/mount-max, read with each reading (a tiny synchronous read, no thread-pool hop). */
  mountMaxPath: string;
}

/** A reading, and fs.mount-max at the time (undefined where the kernel has no such sysctl). */
export type TableReading = TableSample & { mountMax?: number };

function readMountMax(file: string): number | undefined {
  let v: string;
  try {
    v = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  return /^\d+$/.test(v) ? Number(v) : undefined;
}

const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Opens the table and takes its first reading: listmount where it works (the reading proves it),
 * else mountinfo text, saying why in `fallback` when `auto` fell back.
 */
export function openTable(mountinfoPath: string, method: TableMethodSetting): { table: MountTable; first: TableSample } {
  if (method !== 'mountinfo') {
    try {
      if (fs.statfsSync(mountinfoPath).type !== PROC_SUPER_MAGIC) throw new Error(`${mountinfoPath} is not on procfs`);
      const table = new ListmountTable(new MountApi(namespaceIdFor(mountinfoPath)));
      return { table, first: table.sample() };
    } catch (err) {
      if (method === 'listmount') throw err;
      const table = new MountinfoTable(mountinfoPath);
      return { table, first: { ...table.sample(), fallback: `listmount(2) not used: ${errorMessage(err)}` } };
    }
  }
  const table = new MountinfoTable(mountinfoPath);
  return { table, first: table.sample() };
}

if (parentPort) {
  const data = workerData as TableWorkerData;
  let table: MountTable | undefined;
  parentPort.on('message', (req: { id: number }) => {
    let res: WorkerAnswer<TableReading>;
    try {
      let s: TableSample;
      if (table) {
        s = table.sample();
      } else {
        const opened = openTable(data.mountinfoPath, data.method);
        table = opened.table;
        s = opened.first;
      }
      res = { ...s, mountMax: readMountMax(data.mountMaxPath), id: req.id };
    } catch (err) {
      res = { id: req.id, error: errorMessage(err), code: errnoCode(err) };
    }
    parentPort?.postMessage(res);
  });
}
