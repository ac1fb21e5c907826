#!/usr/bin/python3
# metrics-check.py — the checks of tests/integration/metrics that need more than the shell:
# OpenMetrics strict parsing, Prometheus HTTP API queries, the Grafana dashboard's
# expressions, and hostile HTTP clients. Subcommands print JSON or one line; exit 1 on failure.
import json
import socket
import sys
import time
import urllib.parse
import urllib.request


def om_parse(path):
    """Strict OpenMetrics 1.0 parse (python3-prometheus-client's parser)."""
    from prometheus_client.openmetrics import parser
    text = open(path).read()
    fams = list(parser.text_string_to_metric_families(text))
    print(json.dumps({"families": len(fams), "samples": sum(len(f.samples) for f in fams)}))


def query(prom, expr, at=None):
    q = {"query": expr}
    if at:
        q["time"] = at
    url = f"http://{prom}/api/v1/query?" + urllib.parse.urlencode(q)
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"query {expr!r}: {body}")
    return body["data"]["result"]


def cmd_query(prom, expr):
    print(json.dumps(query(prom, expr)))


def cmd_dashboard(prom, path, optional_words):
    """Every expression of the dashboard, Grafana's variables given their 'All' values,
    must return data; those naming a metric in optional_words (a comma list) may be empty
    (the caller passes them only where the kernel cannot produce that metric) and are
    reported."""
    optional = [w for w in optional_words.split(",") if w]
    d = json.load(open(path))
    out = {"checked": 0, "empty_allowed": [], "failed": []}
    for p in d["panels"]:
        for t in p.get("targets", []):
            e = t["expr"].replace("$__rate_interval", "1m").replace('=~"$instance"', '=~".+"')
            if "$" in e:
                out["failed"].append(f"{p['title']}: unresolved variable in {e}")
                continue
            res = query(prom, e)
            out["checked"] += 1
            if res:
                continue
            if any(w in e for w in optional):
                out["empty_allowed"].append(p["title"])
            else:
                out["failed"].append(f"{p['title']}: no data for {e}")
    print(json.dumps(out))
    if out["failed"]:
        sys.exit(1)


def cmd_flood(host, port, n, hold, src, src_bad):
    """n connections from address src held idle for hold seconds; from src_bad (so that
    they reach the HTTP parser past src's per-address cap) garbage requests, an oversized
    header, a POST and a /metrics request that is never read."""
    socks, refused = [], 0
    for _ in range(int(n)):
        s = socket.socket()
        s.bind((src, 0))
        s.setblocking(False)
        try:
            s.connect((host, int(port)))
        except BlockingIOError:
            pass
        except OSError:
            refused += 1
            continue
        socks.append(s)
    bad = [b"GARBAGE\r\n\r\n", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 200000 + b"\r\n\r\n",
           b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
           b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
           b"GET /metrics HTTP/9.9\r\n\r\n"]
    replies = []
    for b in bad:
        s = socket.socket()
        s.bind((src_bad, 0))
        s.settimeout(5)
        try:
            s.connect((host, int(port)))
            s.sendall(b)
            replies.append(s.recv(64).split(b"\r\n")[0].decode(errors="replace"))
        except OSError as e:
            replies.append(f"closed: {e.__class__.__name__}")
        s.close()
    never = socket.socket()
    never.bind((src_bad, 0))
    never.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        never.connect((host, int(port)))
        never.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    except OSError:
        pass
    print(json.dumps({"held": len(socks), "refused": refused, "bad_replies": replies}), flush=True)
    time.sleep(float(hold))
    for s in socks:
        s.close()
    never.close()


def main():
    cmds = {"om-parse": om_parse, "query": cmd_query, "dashboard": cmd_dashboard,
            "flood": cmd_flood}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit("usage: metrics-check.py om-parse|query|dashboard|flood ARGS")
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
