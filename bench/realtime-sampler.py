#!/usr/bin/env python3
# bench/realtime-sampler.py — bench-realtime's sampler (in the guest): one connection to
# edgesliced's control socket, a status request every PERIOD seconds, one line per sample
# {"t", "devices": [{name, cpu_total, cpu_alloc, cpu_foreign}], "left"} on stdout, until no
# task is waiting or running (start it once every task is submitted). One process for the
# whole run: under emulation an exec per sample (the CLI, jq) costs the guest a noticeable
# share of a vCPU, which the daemon would count as foreign load.
# With --until-foreign X it stops instead at the first sample whose first device shows at
# least X cores of foreign CPU (the run starts once the daemon sees the pod).
# Usage: realtime-sampler.py SOCKET PERIOD [--until-foreign X]
import json, socket, sys, time

path, period = sys.argv[1], float(sys.argv[2])
until = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--until-foreign" else None
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
f = s.makefile("rwb")
while True:
    t = time.time()
    f.write(b'{"op":"status"}\n')
    f.flush()
    rep = json.loads(f.readline())
    tasks = rep.get("tasks", [])
    left = sum(1 for x in tasks if x.get("state") in ("waiting", "queued", "starting", "running"))
    devs = [{k: d.get(k) for k in ("name", "cpu_total", "cpu_alloc", "cpu_foreign")} for d in rep.get("devices", [])]
    print(json.dumps({"t": t, "devices": devs, "left": left}), flush=True)
    if (until is None and left == 0) or (until is not None and (devs[0]["cpu_foreign"] or 0) >= until):
        break
    time.sleep(max(0.0, period - (time.time() - t)))
