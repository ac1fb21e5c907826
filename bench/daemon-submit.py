#!/usr/bin/env python3
"""bench/daemon-submit.py SOCKET submit|burst|cancel|quiet N CLIENTS IDS_FILE

submit: N submits (queue b, 1 core, sleep 600) spread over CLIENTS connections, each sending
one request at a time; burst: the same, but each client writes all its lines at once
(pipelined) and then reads the replies; cancel: cancels of the first N ids in IDS_FILE, one at
a time per client; quiet: no requests, N status samples alone. Prints one JSON object (n,
seconds, per_s, p50_us, p99_us of the requests, and status_*: a `status` on a new connection
every 20 ms meanwhile, timed from connect to the reply's last byte by a separate process that
does not parse it, so that neither the clients' threads nor Python's JSON parser are in the
figure). STATUS_PROBE=0: no status probe; STATUS_RAW=1: every sample too. Submits append the accepted ids to IDS_FILE."""
import json
import os
import socket
import sys
import threading
import time

sock, op, n, k, idsf = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ids = [int(x) for x in open(idsf).read().split()][:n] if op == "cancel" else []
lat, got, errs = [], [], []
lock = threading.Lock()
SUBMIT = {"op": "submit", "queue": "b", "demand": {"cpu": 1, "memory": 1048576},
          "argv": ["sleep", "600"]}


def client(part):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rb")
    mine, done = [], []
    for i in part:
        req = SUBMIT if op == "submit" else {"op": "cancel", "task": i}
        t = time.perf_counter()
        s.sendall(json.dumps(req).encode() + b"\n")
        line = f.readline()
        mine.append((time.perf_counter() - t) * 1e6)
        r = json.loads(line)
        if not r.get("ok"):
            errs.append(line)
            break
        done.append(r.get("task"))
    with lock:
        lat.extend(mine)
        got.extend(done)


def burst_client(part):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rb")
    line = json.dumps(SUBMIT).encode() + b"\n"
    t = time.perf_counter()
    w = threading.Thread(target=s.sendall, args=(line * len(part),))
    w.start()
    mine, done = [], []
    for _ in part:
        r = json.loads(f.readline())
        mine.append((time.perf_counter() - t) * 1e6)  # time to the reply since the start
        if not r.get("ok"):
            errs.append(json.dumps(r))
            break
        done.append(r.get("task"))
    w.join()
    with lock:
        lat.extend(mine)
        got.extend(done)


def status_probe(w, samples):
    """Child process: status round trips until the stop file exists (or `samples` taken);
    writes the sorted latencies (us) as JSON to w."""
    out = []
    while True:
        t = time.perf_counter()
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(b'{"op":"status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            b = s.recv(1 << 20)
            if not b:
                break
            buf += b
        s.close()
        out.append((time.perf_counter() - t) * 1e6)
        if os.path.exists(stopf) or (samples and len(out) >= samples):
            break
        time.sleep(0.02)
    out.sort()
    os.write(w, json.dumps(out).encode())


stopf = idsf + ".stop"
if os.path.exists(stopf):
    os.unlink(stopf)
probe = None
if os.environ.get("STATUS_PROBE", "1") != "0" or op == "quiet":
    rp, wp = os.pipe()
    probe = os.fork()
    if probe == 0:
        os.close(rp)
        status_probe(wp, n if op == "quiet" else 0)
        os._exit(0)
    os.close(wp)
    time.sleep(0.05)
work = [] if op == "quiet" else ids if op == "cancel" else list(range(n))
parts = [work[i::k] for i in range(k)]
th = [threading.Thread(target=burst_client if op == "burst" else client, args=(p,))
      for p in parts]
t0 = time.perf_counter()
for t in th:
    t.start()
for t in th:
    t.join()
el = time.perf_counter() - t0
slat = []
if probe:
    if op != "quiet":
        open(stopf, "w").close()
    data = b""
    while True:
        b = os.read(rp, 1 << 20)
        if not b:
            break
        data += b
    os.waitpid(probe, 0)
    if os.path.exists(stopf):
        os.unlink(stopf)
    slat = json.loads(data or b"[]")
if errs:
    sys.exit("daemon-submit: %s refused: %s" % (op, errs[0][:200]))
if op in ("submit", "burst"):
    with open(idsf, "a") as f:
        f.write("".join("%d\n" % i for i in got))
res = {}
if op != "quiet":
    lat.sort()
    res = {"n": len(lat), "seconds": round(el, 2), "per_s": round(len(lat) / el),
           "p50_us": round(lat[len(lat) // 2]), "p99_us": round(lat[int(len(lat) * 0.99)])}
if slat:
    res.update({"status_n": len(slat), "status_p50_ms": round(slat[len(slat) // 2] / 1e3, 1),
                "status_p99_ms": round(slat[min(len(slat) - 1, int(len(slat) * 0.99))] / 1e3, 1),
                "status_max_ms": round(slat[-1] / 1e3, 1)})
    if os.environ.get("STATUS_RAW") == "1":
        res["status_samples_ms"] = [round(x / 1e3, 2) for x in slat]
print(json.dumps(res))
