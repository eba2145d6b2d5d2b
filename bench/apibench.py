#!/usr/bin/python3
"""Helpers of bench/api.sh (Debian's /usr/bin/python3, standard library only).

  apibench.py seed URL TOKEN N          POST /api/items N times on one keep-alive connection
  apibench.py get URL TOKEN FILE        GET URL (Bearer TOKEN), must be 200; body -> FILE
  apibench.py wrk TARGET CONNS RUN FILE parse one wrk --latency output; one JSON line -> stdout
  apibench.py report RESULTS.jsonl      markdown table (median over runs) and ratios
  apibench.py freeport                  print a free TCP port on 127.0.0.1
"""
import http.client
import json
import re
import socket
import statistics
import sys
import time
import urllib.parse

TIMEOUT = 30


def conn_for(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=TIMEOUT), u


def seed(url, token, n):
    c, u = conn_for(url)
    path = u.path.rstrip("/") + "/items"
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    t0 = time.monotonic()
    for i in range(1, n + 1):
        body = json.dumps({"url": f"https://example.com/article/{i}",
                           "tags": ["bench", f"topic{i % 10}"]})
        c.request("POST", path, body, hdr)
        r = c.getresponse()
        data = r.read()
        if r.status != 202:
            sys.exit(f"seed: POST {path} #{i} answered {r.status}: {data[:300]!r}")
        if r.getheader("Connection", "").lower() == "close":
            c.close()
            c, _ = conn_for(url)
    c.close()
    print(f"seeded {n} items in {time.monotonic() - t0:.1f} s")


def get(url, token, out):
    c, u = conn_for(url)
    path = u.path + ("?" + u.query if u.query else "")
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"get: {url} answered {r.status}: {data[:300]!r}")
    with open(out, "wb") as f:
        f.write(data)
    print(f"{url}: {r.status}, {len(data)} bytes, {r.getheader('Content-Type')}")


UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(s):
    m = re.match(r"([\d.]+)(us|ms|s|m|h)$", s)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else None


def parse_wrk(target, conns, run, path):
    out = open(path, errors="replace").read()
    r = {"target": target, "conns": int(conns), "run": int(run)}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else None
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}(?:\.000)?%\s+(\S+)", out, re.M)
        r[f"p{q}"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["sock_errors"] = sum(map(int, m.groups())) if m else 0
    r["sock_detail"] = m.group(0) if m else ""
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", out)
    r["requests"] = int(m.group(1)) if m else 0
    r["read"] = m.group(3) if m else ""
    if r["rps"] is None:
        r["error"] = "no wrk result (see " + path + ")"
    print(json.dumps(r))
    sys.stderr.write(f"{fmt(r['rps'], 0)} req/s, p50 {fmt(r['p50'])} ms, p99 {fmt(r['p99'])} ms, "
                     f"{r['sock_detail'] or 'no socket errors'}, non-2xx {r['non2xx']}"
                     f"{', ' + r['error'] if r.get('error') else ''}\n")


LABEL = {
    "module": "mod_poketto GET /api/items?limit=20",
    "static": "httpd static file, same bytes",
    "flask": "Flask peer (gunicorn -w1 --threads 8)",
    "session": "mod_poketto GET /api/session (token only)",
    "items1": "mod_poketto GET /api/items?limit=1",
}


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, d=2):
    return "-" if v is None else f"{v:.{d}f}"


def report(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    targets, conns = [], []
    for r in rows:
        if r["target"] not in targets:
            targets.append(r["target"])
        if r["conns"] not in conns:
            conns.append(r["conns"])
    runs = max(r["run"] for r in rows)
    cell = {}
    for r in rows:
        cell.setdefault((r["target"], r["conns"]), []).append(r)
    rng = runs > 1
    lines = ["| server | conns | req/s |" + (" req/s min–max |" if rng else "")
             + " p50 ms | p99 ms | socket errors | non-2xx |",
             "|---|---|---|" + ("---|" if rng else "") + "---|---|---|---|"]
    rps = {}
    for c in conns:
        for t in targets:
            rs = cell.get((t, c), [])
            if not rs:
                continue
            rps[(t, c)] = med([r["rps"] for r in rs])
            vals = [r["rps"] for r in rs if r["rps"] is not None]
            span = f" {min(vals):.0f}–{max(vals):.0f} |" if rng and vals else (" - |" if rng else "")
            lines.append(f"| {LABEL.get(t, t)} | {c} | {fmt(rps[(t, c)], 0)} |{span} "
                         f"{fmt(med([r['p50'] for r in rs]))} | {fmt(med([r['p99'] for r in rs]))} | "
                         f"{sum(r['sock_errors'] for r in rs)} | {sum(r['non2xx'] for r in rs)} |")
    if runs > 1:
        lines.append("")
        lines.append(f"Median of {runs} runs per cell (req/s, p50, p99 each their own median); "
                     "errors are summed over the runs.")
    lines.append("")
    lines.append("Ratios of req/s to the static file served by the same httpd (medians; with several "
                 "runs also the range of the ratios within each run):" if rng else
                 "Ratios of req/s to the static file served by the same httpd:")
    lines.append("")
    others = [t for t in targets if t != "static"]
    lines.append("| conns | " + " | ".join(f"{t}/static" for t in others) + " |")
    lines.append("|---|" + "---|" * len(others))
    by_run = {(r["target"], r["conns"], r["run"]): r["rps"] for r in rows}
    for c in conns:
        s = rps.get(("static", c))
        vals = []
        for t in others:
            v = rps.get((t, c))
            txt = f"{v / s:.3f} ({100 * v / s:.1f} %)" if v and s else "-"
            per = [by_run.get((t, c, n)) / by_run.get(("static", c, n)) for n in range(1, runs + 1)
                   if by_run.get((t, c, n)) and by_run.get(("static", c, n))]
            if rng and per:
                txt += f", per run {min(per):.3f}–{max(per):.3f}"
            vals.append(txt)
        lines.append(f"| {c} | " + " | ".join(vals) + " |")
    bad = [r for r in rows if r.get("error") or r["sock_errors"] or r["non2xx"]]
    if bad:
        lines.append("")
        for r in bad:
            lines.append(f"- {r['target']} c{r['conns']} run {r['run']}: "
                         f"{r.get('error') or ''} {r['sock_detail']} non-2xx {r['non2xx']}".rstrip())
    print("\n".join(lines))


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def main(a):
    if len(a) >= 4 and a[0] == "seed":
        seed(a[1], a[2], int(a[3]))
    elif len(a) == 4 and a[0] == "get":
        get(a[1], a[2], a[3])
    elif len(a) == 5 and a[0] == "wrk":
        parse_wrk(*a[1:])
    elif len(a) == 2 and a[0] == "report":
        report(a[1])
    elif a == ["freeport"]:
        freeport()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
