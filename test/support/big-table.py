#!/usr/bin/env python3
"""A big mount table to read: in the mount namespace it runs in (start it in a private one:
unshare -m --propagation private), a tmpfs at DIR and bind mounts on it until the table holds N
mounts; prints "ready N" and holds the namespace until stdin closes or SIGTERM. Plain libc.
usage: big-table.py DIR N
"""
import ctypes, os, signal, sys

MS_BIND = 4096
libc = ctypes.CDLL(None, use_errno=True)
base, n = sys.argv[1], int(sys.argv[2])

def check(r, what):
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")

def count():
    with open("/proc/self/mountinfo", "rb") as f:
        return f.read().count(b"\n")

os.makedirs(base, exist_ok=True)
check(libc.mount(b"none", base.encode(), b"tmpfs", 0, None), "tmpfs")
src = os.path.join(base, "src").encode()
os.mkdir(src)
for i in range(count(), n):
    d = os.path.join(base, f"m{i}")
    os.mkdir(d)
    check(libc.mount(src, d.encode(), None, MS_BIND, None), "bind")
print(f"ready {count()}", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sys.stdin.read()
