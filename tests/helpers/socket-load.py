#!/usr/bin/env python3
# socket-load.py — hostile and busy peers of edgesliced's control socket, for
# tests/integration/daemon-socket and bench/daemon-run. Unix socket only; every mode is
# bounded in connections and time. Prints one JSON object on stdout.
import json, os, resource, socket, sys, threading, time

SOCK = os.environ["EDGESLICE_SOCKET"]


def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    return s


def request(req, timeout=30.0):
    """One request on a fresh connection: (reply, seconds)."""
    t0 = time.monotonic()
    s = conn()
    s.settimeout(timeout)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while b"\n" not in buf:
        b = s.recv(1 << 20)
        if not b:
            break
        buf += b
    s.close()
    return json.loads(buf.split(b"\n")[0] or b"null"), time.monotonic() - t0


def p(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


def as_user(uid, gid, groups, fn):
    """Runs fn() in a child with these ids; returns its JSON output."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            out = fn()
        except Exception as e:  # reported, not raised, from the child
            out = {"error": repr(e)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.waitpid(pid, 0)
    return json.loads(data or b"{}")


def hostile(n, hold_s, modes):
    """n connections cycling through modes; each held hold_s. Counts how each ended."""
    res = {"opened": 0, "refused": {}, "held": 0, "closed_by_daemon": 0}
    socks = []
    for i in range(n):
        mode = modes[i % len(modes)]
        try:
            s = conn()
        except OSError as e:
            res["refused"]["connect:" + e.__class__.__name__] = res["refused"].get(
                "connect:" + e.__class__.__name__, 0) + 1
            continue
        res["opened"] += 1
        s.setblocking(False)
        try:
            if mode == "half":
                s.send(b'{"op":"sta')
            elif mode == "pipeline":
                s.send(b'{"op":"status"}\n' * 2000)
        except OSError:
            pass
        socks.append(s)
    deadline = time.monotonic() + hold_s
    time.sleep(0.2)
    for s in socks:  # which ones the daemon refused at once (a line, then EOF)
        try:
            b = s.recv(4096, socket.MSG_PEEK)
            if b.startswith(b'{"ok":false'):
                code = json.loads(b.split(b"\n")[0])["error"]["code"]
                res["refused"][code] = res["refused"].get(code, 0) + 1
        except (BlockingIOError, OSError, ValueError):
            pass
    while time.monotonic() < deadline:
        time.sleep(0.1)
    for s in socks:
        try:
            s.setblocking(True)
            s.settimeout(0.01)
            while s.recv(1 << 20, socket.MSG_DONTWAIT):
                pass
            res["closed_by_daemon"] += 1
        except (BlockingIOError, socket.timeout):
            res["held"] += 1
        except OSError:
            res["closed_by_daemon"] += 1
        s.close()
    return res


def pipeliner(n, req):
    """One client writing n requests without reading until all are written."""
    s = conn()
    data = (json.dumps(req) + "\n").encode() * n
    t = threading.Thread(target=s.sendall, args=(data,))
    t.start()
    got, buf = 0, b""
    s.settimeout(120)
    while got < n:
        b = s.recv(1 << 20)
        if not b:
            break
        buf += b
        got += buf.count(b"\n")
        buf = buf[buf.rfind(b"\n") + 1:]
    t.join()
    s.close()
    return got


def status_probe(stop, lat, period=0.02):
    while not stop.is_set():
        _, dt = request({"op": "status"})
        lat.append(dt)
        time.sleep(period)


def main():
    mode = sys.argv[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    if mode == "status-under-pipeline":  # N submits pipelined, status measured meanwhile
        n, req = int(sys.argv[2]), json.loads(sys.argv[3])
        stop, lat = threading.Event(), []
        th = threading.Thread(target=status_probe, args=(stop, lat))
        th.start()
        t0 = time.monotonic()
        got = pipeliner(n, req)
        busy = time.monotonic() - t0
        stop.set()
        th.join()
        print(json.dumps({"replies": got, "pipeline_s": busy, "status_n": len(lat),
                          "status_p50_ms": p(lat, .5) * 1e3, "status_p99_ms": p(lat, .99) * 1e3,
                          "status_max_ms": max(lat) * 1e3}))
    elif mode == "burst":  # C clients x N submits each, status measured meanwhile
        clients, n, req = int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
        stop, lat = threading.Event(), []
        th = threading.Thread(target=status_probe, args=(stop, lat))
        th.start()
        t0 = time.monotonic()
        ws = [threading.Thread(target=pipeliner, args=(n, req)) for _ in range(clients)]
        [w.start() for w in ws]
        [w.join() for w in ws]
        busy = time.monotonic() - t0
        stop.set()
        th.join()
        print(json.dumps({"burst_s": busy, "status_n": len(lat), "status_p50_ms": p(lat, .5) * 1e3,
                          "status_p99_ms": p(lat, .99) * 1e3}))
    elif mode == "quiet":  # status alone
        n = int(sys.argv[2])
        lat = [request({"op": "status"})[1] for _ in range(n) if not time.sleep(0.02)]
        print(json.dumps({"status_n": n, "status_p50_ms": p(lat, .5) * 1e3,
                          "status_p99_ms": p(lat, .99) * 1e3}))
    elif mode == "hostile":  # uid gid groups n hold_s modes
        uid, gid = int(sys.argv[2]), int(sys.argv[3])
        groups = [int(g) for g in sys.argv[4].split(",") if g]
        n, hold = int(sys.argv[5]), float(sys.argv[6])
        modes = sys.argv[7].split(",")
        print(json.dumps(as_user(uid, gid, groups, lambda: hostile(n, hold, modes))))
    elif mode == "load":  # the whole load test: hostile crowds + a pipeliner + root status
        gid, n, hold = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        out = {}
        stop, lat = threading.Event(), []
        th = threading.Thread(target=status_probe, args=(stop, lat))
        th.start()

        def crowd(key, uid, g, groups, k, modes):
            out[key] = as_user(uid, g, groups, lambda: hostile(k, hold, modes))

        crowds = [
            threading.Thread(target=crowd, args=("outsiders", 65534, 65534, [], n // 2,
                                                 ["idle", "half", "pipeline"])),
            threading.Thread(target=crowd, args=("member", 65534, gid, [], n // 2,
                                                 ["idle", "half", "pipeline"])),
        ]
        [c.start() for c in crowds]
        out["pipeliner_replies"] = pipeliner(2000, {"op": "queues"})
        [c.join() for c in crowds]
        stop.set()
        th.join()
        out.update({"status_n": len(lat), "status_p50_ms": p(lat, .5) * 1e3,
                    "status_p99_ms": p(lat, .99) * 1e3, "status_max_ms": max(lat) * 1e3})
        print(json.dumps(out))
    else:
        sys.exit("usage: socket-load.py MODE ...")


if __name__ == "__main__":
    main()
