#!/usr/bin/env python3
"""A container-start storm mountstorm did not write: WORKERS processes, each forking one child per
"container" that unshares its mount namespace (as an OCI runtime does), makes it private, makes
BINDS bind mounts, lives LIFE seconds (a container running) and exits (its namespace and mounts
torn down with it: ~2 x BINDS table changes per start), at RATE starts a second in all (0: as fast as they go). Each start is a bundle directory with a CRI-annotated config.json in TASKDIR's k8s.io
namespace, as containerd makes them, removed HOLD seconds later. Plain libc through ctypes, nothing
of mountstorm's. Prints one JSON line at the end: the first start's time (Unix seconds), starts.
usage: bind-storm.py TASKDIR SCRATCH WORKERS SECONDS BINDS [RATE=0] [LIFE=0] [HOLD=1]
"""
import ctypes, json, os, shutil, sys, time, uuid

CLONE_NEWNS = 0x20000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
libc = ctypes.CDLL(None, use_errno=True)

def check(r, what):
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")

task_dir, scratch = sys.argv[1], sys.argv[2]
workers, seconds, binds = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
rate = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
life = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
hold = float(sys.argv[8]) if len(sys.argv) > 8 else 1.0
# Each worker's time between starts, at the rate asked for (0: none).
period = workers / rate if rate > 0 else 0.0
ns_dir = os.path.join(task_dir, "k8s.io")
os.makedirs(ns_dir, exist_ok=True)
src = os.path.join(scratch, "src")
os.makedirs(src, exist_ok=True)
for i in range(binds):
    os.makedirs(os.path.join(scratch, "dst", str(i)), exist_ok=True)

def container():
    """The child: a new private mount namespace with BINDS bind mounts, gone as it exits."""
    check(libc.unshare(CLONE_NEWNS), "unshare")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make private")
    s = src.encode()
    for i in range(binds):
        check(libc.mount(s, os.path.join(scratch, "dst", str(i)).encode(), None, MS_BIND, None), "bind")
    time.sleep(life)
    os._exit(0)

def worker(end, out):
    starts, held, live = 0, [], 0
    next_at = time.time()
    while time.time() < end:
        if period:
            time.sleep(max(0.0, next_at - time.time()))
            next_at += period
        cid = uuid.uuid4().hex
        bundle = os.path.join(ns_dir, cid)
        os.makedirs(bundle)
        spec = {"ociVersion": "1.0.2", "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.image-name": "independent/binds:latest",
            "io.kubernetes.cri.sandbox-name": f"binds-{cid[:8]}",
            "io.kubernetes.cri.sandbox-namespace": "default"}}
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        pid = os.fork()
        if pid == 0:
            try:
                container()
            except BaseException as err:
                print(err, file=sys.stderr)
                os._exit(1)
        live += 1
        # A container that lives on is reaped later: the next one starts meanwhile.
        while live:
            done, status = os.waitpid(-1, 0 if life == 0 else os.WNOHANG)
            if done == 0:
                break
            live -= 1
            if status != 0:
                raise SystemExit(f"a container failed: status {status}")
        starts += 1
        held.append((time.time() + hold, bundle))
        while held and held[0][0] <= time.time():
            shutil.rmtree(held.pop(0)[1], ignore_errors=True)
    for _ in range(live):
        os.waitpid(-1, 0)
    for _, b in held:
        shutil.rmtree(b, ignore_errors=True)
    os.write(out, f"{starts}\n".encode())
    os._exit(0)

first = time.time()
end = first + seconds
r, w = os.pipe()
pids = []
for _ in range(workers):
    pid = os.fork()
    if pid == 0:
        os.close(r)
        worker(end, w)
    pids.append(pid)
os.close(w)
failed = 0
for pid in pids:
    _, status = os.waitpid(pid, 0)
    failed += status != 0
total = sum(int(x) for x in os.read(r, 65536).decode().split())
print(json.dumps({"first": first, "starts": total, "seconds": seconds, "failed": failed}))
sys.exit(1 if failed else 0)
