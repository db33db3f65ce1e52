"""
A task that mounts and then becomes another program, as runc's init does: forks a child (which
starts with this process's name), the child makes K tmpfs mounts and K umounts on DIR, then exec's
`sleep 600` (named "sleep" from then on). Prints the child's pid once it has exec'd (a close-on-exec
pipe closes then) and exits; the caller kills the sleep.
usage: python3 fork-mount-exec.py DIR K (run it under a name of its own: a symlink to python3)
"""
import ctypes
import os
import sys

libc = ctypes.CDLL("libc.so.6", use_errno=True)
target, k = sys.argv[1].encode(), int(sys.argv[2])
r, w = os.pipe()  # close-on-exec (PEP 446)
pid = os.fork()
if pid == 0:
    os.close(r)
    for _ in range(k):
        if libc.mount(b"mountstorm-fork", target, b"tmpfs", 0, None) != 0 or libc.umount2(target, 0) != 0:
            os._exit(1)
    null = os.open(os.devnull, os.O_RDWR)  # the caller reads this process's output to its end: not the sleep's
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.execvp("sleep", ["sleep", "600"])
os.close(w)
os.read(r, 1)  # end of file: the child exec'd (or exited)
print(pid, flush=True)
