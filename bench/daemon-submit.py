#!/usr/bin/env python3
"""bench/daemon-submit.py SOCKET submit|cancel N CLIENTS IDS_FILE

N submits (queue b, 1 core, sleep 600) or cancels of the first N ids in IDS_FILE, spread over
CLIENTS connections sending one request at a time each; prints one JSON object (n, seconds,
per_s, p50_us, p99_us). Submits append the accepted ids to IDS_FILE."""
import json
import socket
import sys
import threading
import time

sock, op, n, k, idsf = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ids = [int(x) for x in open(idsf).read().split()][:n] if op == "cancel" else []
lat, got, errs = [], [], []
lock = threading.Lock()


def client(part):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rb")
    mine, done = [], []
    for i in part:
        if op == "submit":
            req = {"op": "submit", "queue": "b", "demand": {"cpu": 1, "memory": 1048576},
                   "argv": ["sleep", "600"]}
        else:
            req = {"op": "cancel", "task": i}
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


work = ids if op == "cancel" else list(range(n))
parts = [work[i::k] for i in range(k)]
th = [threading.Thread(target=client, args=(p,)) for p in parts]
t0 = time.perf_counter()
for t in th:
    t.start()
for t in th:
    t.join()
el = time.perf_counter() - t0
if errs:
    sys.exit("daemon-submit: %s refused: %s" % (op, errs[0][:200]))
if op == "submit":
    with open(idsf, "a") as f:
        f.write("".join("%d\n" % i for i in got))
lat.sort()
print('{"n": %d, "seconds": %.2f, "per_s": %.0f, "p50_us": %.0f, "p99_us": %.0f}' %
      (len(lat), el, len(lat) / el, lat[len(lat) // 2], lat[int(len(lat) * 0.99)]))
