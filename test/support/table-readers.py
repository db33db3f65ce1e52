#!/usr/bin/env python3
"""Readers of the mount table as systemd is one in a storm: READERS processes, each named NAME (its
comm, as the kernel reports it), re-reading FILE whole (a mount table file: /proc/PID/mountinfo)
one read() after another until SIGTERM, as a reader that re-reads on every change does while
changes come faster than it reads. At the end, one JSON line: the reads and the seconds spent in
them (monotonic clock), summed over the readers. Plain Python, nothing of mountstorm's.
usage: table-readers.py FILE READERS [NAME=reader]
"""
import ctypes, json, os, signal, sys, time

path, readers = sys.argv[1], int(sys.argv[2])
name = (sys.argv[3] if len(sys.argv) > 3 else "reader").encode()[:15]
PR_SET_NAME = 15
libc = ctypes.CDLL(None, use_errno=True)

def reader(w):
    libc.prctl(PR_SET_NAME, name, 0, 0, 0)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    reads, spent = 0, 0.0
    while not stop:
        t = time.monotonic()
        with open(path, "rb", buffering=0) as f:
            while f.read(1 << 16):
                pass
        spent += time.monotonic() - t
        reads += 1
    os.write(w, (json.dumps({"reads": reads, "seconds": spent}) + "\n").encode())
    os._exit(0)

r, w = os.pipe()
kids = []
for _ in range(readers):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        reader(w)
    kids.append(pid)
os.close(w)
signal.signal(signal.SIGTERM, lambda *_: [os.kill(k, signal.SIGTERM) for k in kids])
for k in kids:
    while True:
        try:
            os.waitpid(k, 0)
            break
        except InterruptedError:
            continue
out = b""
while True:
    chunk = os.read(r, 4096)
    if not chunk:
        break
    out += chunk
rows = [json.loads(l) for l in out.decode().splitlines() if l]
print(json.dumps({"reads": sum(x["reads"] for x in rows), "seconds": sum(x["seconds"] for x in rows)}))
