/**
 * Waits in poll(2) for POLLPRI on an open mountinfo: the kernel raises it (with POLLERR) once after
 * any change to that mount namespace, coalescing bursts, and this loop coalesces further (at most one
 * wake-up per COALESCE_MS). Each wake-up adds 1 to shared[0]; shared[1] set to 1 stops the loop;
 * shared[2] is the errno if poll broke; shared[3] becomes 1 once the descriptor is open (armed).
 * A worker thread, because poll blocks.
 */
import * as fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import koffi from 'koffi';

const POLLPRI = 0x2;
const POLLERR = 0x8;
const TIMEOUT_MS = 250;
/**
 * After a wake-up, wait this long before polling again. A storm changes the namespace tens of
 * thousands of times a second and each poll() would return at once: polling in a loop would spin a
 * CPU on the storm's node. The sampler reads at most once per interval (≥ 100 ms) anyway.
 */
const COALESCE_MS = 100;

const libc = koffi.load('libc.so.6');
koffi.struct('mountstorm_pollfd', { fd: 'int', events: 'short', revents: 'short' }); // named in the signature below
const poll = libc.func('int poll(_Inout_ mountstorm_pollfd *fds, unsigned long nfds, int timeout)');

const { path, shared } = workerData as { path: string; shared: SharedArrayBuffer };
const state = new Int32Array(shared);
const fd = fs.openSync(path, 'r');
// Armed: from here on every change raises POLLPRI on this descriptor (its baseline is taken at open).
Atomics.store(state, 3, 1);
try {
  while (Atomics.load(state, 1) === 0) {
    const p = { fd, events: POLLPRI, revents: 0 };
    const n = poll(p, 1, TIMEOUT_MS) as number;
    if (n < 0) {
      Atomics.store(state, 2, koffi.errno() || 1); // tell the watcher poll broke: it falls back to reading every sample
      break;
    }
    if (n > 0 && p.revents & (POLLPRI | POLLERR)) {
      Atomics.add(state, 0, 1);
      Atomics.wait(state, 1, 0, COALESCE_MS); // returns early when close() sets the stop flag
    }
  }
} finally {
  fs.closeSync(fd);
}
