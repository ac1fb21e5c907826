#!/usr/bin/env python3
"""shape.py — benchmark for `edgeslice shape`: configured vs achieved rate (L2 from the class
byte counters, TCP goodput at the receiver) per preset, against the same HTB set up with tc(8)
in the same run, on a veth pair between two fresh network namespaces. Run as root."""
import json, os, re, subprocess, sys, tempfile, time

BUILD = os.environ.get("BUILD", os.path.abspath("build"))
ES, TR = f"{BUILD}/edgeslice", f"{BUILD}/tests/es-traffic"
PRESETS = [("3g", 137500), ("4g", 731250), ("wifi", 2360000)]
SECONDS, WARM, REPS = 5.0, 1.0, int(os.environ.get("SHAPE_BENCH_REPS", "2"))
ID = os.getpid()
S, R = f"es-bsh-{ID}-s", f"es-bsh-{ID}-r"
VS, VR = f"esbv{ID}", f"esbr{ID}"
CG2 = next(p for p in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")
           if subprocess.run(["stat", "-fc", "%T", p], capture_output=True, text=True).stdout.strip() == "cgroup2fs")
CG = f"{CG2}/es-bsh-{ID}"


def sh(*a, check=True, ns=None, out=False):
    cmd = (["nsenter", f"--net=/run/netns/{ns}"] if ns else []) + list(a)
    r = subprocess.run(cmd, check=check, capture_output=True, text=True)
    return r.stdout


def setup():
    for n in (S, R):
        sh("ip", "netns", "add", n)
        sh("ip", "-n", n, "link", "set", "lo", "up")
    sh("ip", "link", "add", VS, "netns", S, "type", "veth", "peer", "name", VR, "netns", R)
    sh("ip", "-n", S, "addr", "add", "10.203.0.1/30", "dev", VS)
    sh("ip", "-n", R, "addr", "add", "10.203.0.2/30", "dev", VR)
    sh("ip", "-n", S, "link", "set", VS, "up")
    sh("ip", "-n", R, "link", "set", VR, "up")
    os.makedirs(CG, exist_ok=True)


def cleanup():
    for n in (S, R):
        subprocess.run(["ip", "netns", "del", n], capture_output=True)
    for _ in range(100):  # a sender may still be exiting after an error
        try:
            with open(f"{CG}/cgroup.procs") as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), 9)
                    except ProcessLookupError:
                        pass
            os.rmdir(CG)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


def gso(size):
    sh("ip", "-n", S, "link", "set", "dev", VS, "gso_max_size", str(size))


def es_sample(classid):
    d = json.loads(sh(ES, "shape", VS, "--show", "--json", ns=S))
    c = next(c for c in d["classes"] if c["classid"] == classid)
    return c["sampled_monotonic_ns"] / 1e9, c["bytes"]


def tc_sample(classid):
    t0 = time.monotonic()
    txt = sh("tc", "-s", "class", "show", "dev", VS, "classid", classid, ns=S)  # no -j for classes in iproute2 6.1
    t1 = time.monotonic()
    return (t0 + t1) / 2, int(re.search(r"Sent (\d+) bytes", txt).group(1))


PROFILES = [("sndbuf-32k", 32768), ("sndbuf-128k", 131072)]  # SO_SNDBUF; the kernel doubles it


def run(sample, classid, port, sndbuf):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        ready = out.name + ".ready"
        rcv = subprocess.Popen(["nsenter", f"--net=/run/netns/{R}", TR, "recv", f"10.203.0.2:{port}",
                                str(WARM), ready], stdout=open(out.name, "w"))
        for _ in range(200):
            if os.path.exists(ready):
                break
            time.sleep(0.01)
        snd = subprocess.Popen(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec nsenter --net=/run/netns/$1 "$2" send $3 $4 - $5',
                                CG, S, TR, f"10.203.0.2:{port}", str(SECONDS), str(sndbuf)], stdout=subprocess.DEVNULL)
        time.sleep(WARM)
        t1, b1 = sample(classid)
        time.sleep(SECONDS - WARM - 0.6)
        t2, b2 = sample(classid)
        snd.wait()
        rcv.wait()
        os.unlink(ready)
        g = json.load(open(out.name))
    return (b2 - b1) / (t2 - t1), g["goodput_bytes_per_s"]


def tc_setup(rate, same_as_edgeslice):
    """The HTB tree edgeslice builds, written as tc(8) commands (what an admin would type)."""
    sh("tc", "qdisc", "replace", "dev", VS, "root", "handle", "1:", "htb", "default", "2", ns=S)
    sh("tc", "class", "add", "dev", VS, "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit", ns=S)
    sh("tc", "class", "add", "dev", VS, "parent", "1:1", "classid", "1:2", "htb", "rate", "9gbit", "ceil", "10gbit", ns=S)
    extra = []
    if same_as_edgeslice:  # the same burst/quantum edgeslice computes (docs/SHAPER.md)
        frame = 1514
        burst = rate * 2 // 1000 + 3 * frame
        extra = ["burst", f"{burst}b", "cburst", f"{burst}b", "quantum", str(min(max(rate // 10, frame), 200000))]
    sh("tc", "class", "add", "dev", VS, "parent", "1:1", "classid", "1:10", "htb", "rate", f"{rate * 8}bit",
       "ceil", f"{rate * 8}bit", *extra, ns=S)
    sh("tc", "qdisc", "add", "dev", VS, "parent", "1:10", "pfifo", "limit", str(max(32, min(10000, rate // 10 // 1514))), ns=S)
    # cls_cgroup needs v1 net_cls; match the benchmark's destination instead.
    sh("tc", "filter", "add", "dev", VS, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
       "match", "ip", "dst", "10.203.0.2/32", "flowid", "1:10", ns=S)


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "bench/results/shape.json"
    if os.geteuid() != 0:
        sys.exit("bench-shape: needs root (network namespaces, qdiscs)")
    gso0 = None
    setup()
    rows = []
    try:
        gso0 = int(sh("ip", "-n", S, "-d", "link", "show", VS).split("gso_max_size ")[1].split()[0])
        port = 6000
        for (profile, sndbuf), (name, rate) in [(p, r) for p in PROFILES for r in PRESETS]:
            for variant in ("edgeslice", "tc-same", "tc-default"):
                l2s, gps = [], []
                for _ in range(REPS):
                    port += 1
                    if variant == "edgeslice":
                        sh(ES, "shape", VS, "--preset", name, "--cgroup", CG, ns=S)
                        l2, gp = run(es_sample, "e5:10", port, sndbuf)
                        sh(ES, "shape", VS, "--clear", ns=S)
                    else:
                        same = variant == "tc-same"
                        if same:  # edgeslice's GSO cap, applied by hand
                            gso(max(2 * 1514, min(gso0, rate // 1000)))
                        tc_setup(rate, same)
                        l2, gp = run(tc_sample, "1:10", port, sndbuf)
                        sh("tc", "qdisc", "del", "dev", VS, "root", ns=S)
                        gso(gso0)
                    l2s.append(l2)
                    gps.append(gp)
                l2, gp = sum(l2s) / len(l2s), sum(gps) / len(gps)
                ideal_gp = rate * 1448 / 1514  # TCP payload share of a full 1514 B frame
                rows.append({
                    "profile": profile, "preset": name, "variant": variant, "configured_mbit": rate * 8e-6,
                    "achieved_l2_mbit": round(l2 * 8e-6, 4), "l2_error_pct": round((l2 - rate) / rate * 100, 2),
                    "goodput_mbit": round(gp * 8e-6, 4), "goodput_vs_ideal_pct": round((gp - ideal_gp) / ideal_gp * 100, 2),
                    "l2_runs_mbit": [round(x * 8e-6, 4) for x in l2s], "reps": REPS,
                })
                r = rows[-1]
                print(f"{profile:11} {name:5} {variant:11} set {r['configured_mbit']:7.3f}  L2 {r['achieved_l2_mbit']:8.4f} "
                      f"({r['l2_error_pct']:+.2f} %)  goodput {r['goodput_mbit']:8.4f} ({r['goodput_vs_ideal_pct']:+.2f} % of ideal)",
                      flush=True)
    finally:
        cleanup()
    res = {
        "benchmark": "shape",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": os.uname().release,
        "method": f"TCP bulk upload over a veth pair between two netns, {SECONDS:g} s per run, window "
                  f"{WARM:g}..{SECONDS - 0.6:g} s; L2 = class byte counter delta / time; goodput at the receiver; "
                  f"ideal goodput = rate * 1448/1514; mean of {REPS} runs. Profiles: the sender's SO_SNDBUF "
                  f"(32k keeps a flow below the 32-packet FIFO: no tail drops; 128k lets TCP overfill it and build "
                  f"large GSO packets, like a real bulk upload)",
        "variants": {
            "edgeslice": "edgeslice shape --preset P --cgroup (libnl HTB + cls_bpf, pfifo leaf on this kernel, GSO cap)",
            "tc-same": "the same HTB/burst/quantum/leaf and GSO cap, set up with tc(8), u32 filter",
            "tc-default": "tc(8) HTB with tc's default burst/quantum, device GSO untouched (wondershaper-style)",
        },
        "results": rows,
    }
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path + ".tmp", "w") as f:
        json.dump(res, f, indent=2)
    os.replace(out_path + ".tmp", out_path)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
