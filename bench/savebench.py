#!/usr/bin/python3
"""Helpers of bench/save.sh (Debian's /usr/bin/python3, standard library only).

  savebench.py freeport
      print a free TCP port on 127.0.0.1
  savebench.py origin PORT PEER_DIR
      the peer's slow origin (its pages) served by asyncio on 127.0.0.1:PORT
  savebench.py origin-check BASE N MS
      N concurrent GET BASE/slow?ms=MS&n=i, each on a connection of its own: can the
      origin hold N slow requests at once? One JSON line -> stdout
  savebench.py hol [options]
      the head-of-line run: N concurrent saves while closed-loop clients GET a page of the
      list; one JSON line -> --out (see the options below)
  savebench.py accept LABEL DB ENGINE CONNS FILE
      parse one wrk run of the accept phase (the SAVEBENCH line of its Lua script);
      one JSON line -> stdout
  savebench.py sqlite-count DB
      print how many items the SQLite file holds, by state
  savebench.py report RESULTS.jsonl
      markdown tables of the hol and accept results
"""
import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import re
import socket
import sqlite3
import statistics
import sys
import threading
import time
import urllib.parse

TIMEOUT = 30


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def pct(vals, q):
    """Nearest-rank percentile (as the Flask peer's bench.py computes it)."""
    if not vals:
        return None
    v = sorted(vals)
    return v[min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))]


def fmt(v, d=1):
    return "-" if v is None else f"{v:.{d}f}"


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


# ------------------------------------------------------------ raw HTTP/1.1 client
def request_bytes(host, port, method, path, headers, body=b"", close=True):
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    if close:
        head.append("Connection: close")
    for k, v in headers.items():
        head.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(r, timeout):
    """(status, headers dict, body bytes) of one HTTP/1.1 answer."""
    raw = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), timeout)
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdr = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdr[k.strip().lower()] = v.strip()
    if "content-length" in hdr:
        data = await asyncio.wait_for(r.readexactly(int(hdr["content-length"])), timeout)
    elif hdr.get("transfer-encoding", "").lower() == "chunked":
        data = b""
        while True:
            size = int((await asyncio.wait_for(r.readline(), timeout)).split(b";")[0], 16)
            if size == 0:
                await r.readline()
                break
            data += (await asyncio.wait_for(r.readexactly(size + 2), timeout))[:-2]
    else:
        data = await asyncio.wait_for(r.read(), timeout)
    return status, hdr, data


async def http_once(host, port, method, path, headers, body=b"", timeout=120):
    """One request on a new connection; (status, headers dict, body bytes)."""
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        w.write(request_bytes(host, port, method, path, headers, body))
        await w.drain()
        return await read_response(r, timeout)
    finally:
        w.close()


# ------------------------------------------------------------------ asyncio origin
def origin(port, peer_dir):
    """The peer's slow origin (same pages: slow_origin.PAGES, chosen by the query string)
    on asyncio instead of a thread per connection: /slow?ms=N answers after N ms, /fast at
    once; HTTP/1.1 keep-alive; 127.0.0.1 only."""
    sys.path.insert(0, peer_dir)
    import slow_origin  # noqa: E402 -- the peer's module; its server starts only as __main__
    pages = slow_origin.PAGES
    import zlib

    async def handle(r, w):
        try:
            while True:
                try:
                    head = await r.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        ConnectionError):
                    return
                line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
                target = line[1] if len(line) > 1 else "/"
                keep = b"connection: close" not in head.lower()
                q = urllib.parse.urlsplit(target)
                if line[0] != "GET" or q.path not in ("/slow", "/fast"):
                    w.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    await w.drain()
                    if not keep:
                        return
                    continue
                if q.path == "/slow":
                    ms = int(urllib.parse.parse_qs(q.query).get("ms", ["0"])[0])
                    if ms > 0:
                        await asyncio.sleep(ms / 1000.0)
                body = pages[zlib.crc32(q.query.encode()) % len(pages)]
                w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                        + (b"" if keep else b"Connection: close\r\n") + b"\r\n" + body)
                await w.drain()
                if not keep:
                    return
        finally:
            w.close()

    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096,
                                         reuse_address=True)
        print(f"asyncio origin on 127.0.0.1:{port}", flush=True)
        async with srv:
            await srv.serve_forever()

    asyncio.run(main())


# ------------------------------------------------------------------ origin check
def origin_check(base, n, ms):
    u = urllib.parse.urlsplit(base)

    async def run():
        async def one(i):
            t = time.monotonic()
            try:
                st, _, data = await http_once(u.hostname, u.port, "GET",
                                              f"/slow?ms={ms}&n=check{i}", {}, timeout=60)
                return st, len(data), time.monotonic() - t
            except Exception as e:  # noqa: BLE001 -- reported, not hidden
                return repr(e), 0, time.monotonic() - t
        t0 = time.monotonic()
        res = await asyncio.gather(*(one(i) for i in range(n)))
        return res, time.monotonic() - t0

    res, wall = asyncio.run(run())
    ok = [r for r in res if r[0] == 200]
    out = {"kind": "origin", "n": n, "ms": ms, "ok": len(ok), "wall_s": wall,
           "body_bytes": ok[0][1] if ok else None,
           "slowest_s": max(r[2] for r in res), "errors": sorted({str(r[0]) for r in res
                                                                   if r[0] != 200})[:5]}
    print(json.dumps(out))
    log(f"origin: {len(ok)}/{n} concurrent /slow?ms={ms} answered 200 in {wall:.2f} s "
        f"(page {out['body_bytes']} bytes){'; errors ' + str(out['errors']) if out['errors'] else ''}")


# ------------------------------------------------------------- the SQLite file
def db_states(db, min_id=0):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = c.execute("SELECT state, count(*) FROM items WHERE id > ? GROUP BY state",
                         (min_id,)).fetchall()
    finally:
        c.close()
    return dict(rows)


def db_holders(db, min_id):
    """Tasks of items after min_id: [queued, running per lease owner (one per child)]"""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        q = c.execute("SELECT count(*) FROM tasks WHERE state = 'queued' AND item_id > ?",
                      (min_id,)).fetchone()[0]
        run = [r[0] for r in c.execute("SELECT count(*) FROM tasks WHERE state = 'running' "
                                       "AND item_id > ? GROUP BY owner ORDER BY 1 DESC",
                                       (min_id,))]
    finally:
        c.close()
    return [q, run]


def db_max_item(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return c.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
    finally:
        c.close()


# ---------------------------------------------------------------- hol: the getters
def getter(url, token, start_evt, stop_evt, conn):
    """Closed loop: GET url on one keep-alive connection until stop_evt. Sends a list of
    (t_start monotonic, latency ms, status) through conn."""
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    hdr = {"Authorization": "Bearer " + token} if token else {}
    out = []
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    start_evt.wait()
    while not stop_evt.is_set():
        t = time.monotonic()
        try:
            c.request("GET", path, headers=hdr)
            r = c.getresponse()
            r.read()
            st = r.status
        except Exception as e:  # noqa: BLE001
            st = type(e).__name__
            c.close()
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        out.append((t, (time.monotonic() - t) * 1000.0, st))
    c.close()
    conn.send(out)
    conn.close()


def poster(jobs, host, port, hdr, timeout, ready_q, go_evt, conn):
    """One client process of the burst: opens a connection per save first (so that the
    burst itself is only requests), reports ready, waits for the gate, then sends every
    request at once. Sends [(i, t_answer monotonic, status, task id, item id)] through
    conn. Several of these share the burst, so that the client side is not one thread
    competing with a thousand server threads for two cores."""
    async def main():
        conns = await asyncio.gather(*(asyncio.wait_for(asyncio.open_connection(host, port),
                                                        60) for _ in jobs),
                                     return_exceptions=True)
        ready_q.put(sum(1 for c in conns if isinstance(c, Exception)))
        await asyncio.get_running_loop().run_in_executor(None, go_evt.wait)

        async def one(k):
            i, body = jobs[k]
            c = conns[k]
            if isinstance(c, Exception):
                return (i, time.monotonic(), "connect: " + type(c).__name__, None, None)
            r, w = c
            try:
                w.write(request_bytes(host, port, "POST", "/api/items", hdr, body))
                await w.drain()
                st, _, data = await read_response(r, timeout)
                t = time.monotonic()
                task = item = None
                if st in (201, 202):
                    try:
                        j = json.loads(data)
                        task = (j.get("task") or {}).get("id")
                        item = (j.get("item") or j).get("id")
                    except ValueError:
                        pass
                return (i, t, st, task, item)
            except Exception as e:  # noqa: BLE001 -- reported
                return (i, time.monotonic(), type(e).__name__ + ": " + str(e)[:60], None, None)
            finally:
                w.close()
        return await asyncio.gather(*(one(k) for k in range(len(jobs))))

    conn.send(asyncio.run(main()))
    conn.close()


def proc_origin_conns(port):
    """Established TCP connections to 127.0.0.1:port (client side), from /proc/net/tcp."""
    hexport = f"{port:04X}"
    n = 0
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for ln in f:
                p = ln.split()
                # p[1] local, p[2] remote, p[3] state (01 = ESTABLISHED)
                if p[3] == "01" and p[2].endswith(":" + hexport):
                    n += 1
    except OSError:
        return None
    return n


def get_stats(samples, t_from, t_to):
    sel = [s for s in samples if t_from <= s[0] < t_to]
    ok = [s[1] for s in sel if s[2] == 200]
    return {"gets": len(sel), "get_errors": sum(1 for s in sel if s[2] != 200),
            "get_error_kinds": sorted({str(s[2]) for s in sel if s[2] != 200})[:5],
            "get_p50": pct(ok, 50), "get_p99": pct(ok, 99), "get_max": max(ok) if ok else None}


def hol(a):
    u = urllib.parse.urlsplit(a.base)
    ctx = mp.get_context("fork")
    start_evt, stop_evt = ctx.Event(), ctx.Event()
    pipes, procs = [], []
    for _ in range(a.getters):
        rx, tx = ctx.Pipe(duplex=False)
        p = ctx.Process(target=getter, args=(a.get_url, a.token, start_evt, stop_evt, tx))
        p.start()
        pipes.append(rx)
        procs.append(p)

    min_id = db_max_item(a.db) if a.db else 0
    hdr = {"Content-Type": "application/json"}
    if a.token:
        hdr["Authorization"] = "Bearer " + a.token
    tag = a.tag or str(int(time.time()))

    # idle baseline: the same GET clients, nothing else running
    t_idle = time.monotonic()
    start_evt.set()
    time.sleep(a.idle)

    posts = [None] * a.n
    poll = {"ready_at": None, "done_at": None, "states": {}, "origin_conns": [],
            "deadline_hit": False, "holders": []}
    finished = threading.Event()

    def poller(t0):
        last_conn = last_hold = 0.0
        while not finished.is_set():
            now = time.monotonic()
            if a.origin_port and now - last_conn >= 0.25:
                poll["origin_conns"].append((now - t0, proc_origin_conns(a.origin_port)))
                last_conn = now
            if a.db and now - last_hold >= 1.0:
                try:
                    poll["holders"].append([round(now - t0, 1)] + db_holders(a.db, min_id))
                except sqlite3.Error:
                    pass
                last_hold = now
            if a.db:
                try:
                    st = db_states(a.db, min_id)
                except sqlite3.Error as e:
                    st = {"poll_error": str(e)}
                poll["states"] = st
                n_ready = st.get("ready", 0)
                n_done = n_ready + st.get("failed", 0)
                if poll["done_at"] is None and n_done >= a.n:
                    poll["done_at"] = now - t0
                if poll["ready_at"] is None and n_ready >= a.n:
                    poll["ready_at"] = now - t0
                if n_done >= a.n:
                    return
            elif all(p is not None for p in posts):
                return
            if now - t0 > a.deadline:
                poll["deadline_hit"] = True
                return
            time.sleep(a.poll_ms / 1000.0)

    # the posters: connected first, then released together
    ready_q, go_evt = ctx.Queue(), ctx.Event()
    post_pipes, post_procs = [], []
    for k in range(a.posters):
        jobs = [(i, json.dumps({"url": a.url_fmt.format(i=i, tag=tag, h=i % a.spread)}).encode())
                for i in range(k, a.n, a.posters)]
        rx, tx = ctx.Pipe(duplex=False)
        p = ctx.Process(target=poster, args=(jobs, u.hostname, u.port, hdr, a.deadline,
                                             ready_q, go_evt, tx))
        p.start()
        post_pipes.append(rx)
        post_procs.append(p)
    connect_errors = sum(ready_q.get(timeout=120) for _ in post_procs)
    load = float(open("/proc/loadavg").read().split()[0])
    t0_wall = time.time()
    t0 = time.monotonic()
    th = threading.Thread(target=poller, args=(t0,), daemon=True)
    th.start()
    go_evt.set()
    for rx in post_pipes:
        if rx.poll(a.deadline + 60):
            for i, t, st, task, item in rx.recv():
                posts[i] = (t - t0, st, task, item)
    for p in post_procs:
        p.join(10)
        if p.is_alive():
            p.kill()
    th.join(a.deadline + 10)
    t_end = time.monotonic()
    if not a.db:
        # the saves are the work: the run ends with the last answer
        t_end = t0 + max((p[0] for p in posts if p is not None), default=t_end - t0)
    finished.set()
    stop_evt.set()
    samples = []
    for rx in pipes:
        if rx.poll(a.deadline + 30):
            samples.extend(rx.recv())
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()

    answered = [p for p in posts if p is not None]
    ok = [p for p in answered if p[1] == a.expect]
    post_s = [p[0] for p in ok]
    res = {"kind": "hol", "label": a.label, "rank": a.rank, "n": a.n, "expect": a.expect,
           "posters": a.posters, "connect_errors": connect_errors, "load": load,
           "posts_ok": len(ok), "post_errors": sorted({str(p[1]) for p in answered
                                                       if p[1] != a.expect})[:5],
           "n_post_errors": len(answered) - len(ok),
           "posts_answered_s": max(p[0] for p in answered) if answered else None,
           "post_p50_s": pct(post_s, 50), "post_p90_s": pct(post_s, 90),
           "post_first_s": min(post_s) if post_s else None,
           "answers_per_s": [[k, sum(1 for x in post_s if int(x) == k)]
                             for k in sorted({int(x) for x in post_s})],
           "window_s": t_end - t0, "deadline_hit": poll["deadline_hit"],
           "ready_s": poll["ready_at"], "done_s": poll["done_at"],
           "states": poll["states"], "poll": "db" if a.db else "posts"}
    res["holders"] = poll["holders"]
    conns = [c for _, c in poll["origin_conns"] if c is not None]
    res["origin_conns_max"] = max(conns) if conns else None
    res["origin_conns_median"] = statistics.median(conns) if conns else None
    # GETs over the whole run (burst to all ready, or to the deadline) and while the saves
    # were being answered (burst to the last answer)
    res.update(get_stats(samples, t0, t_end))
    burst_end = t0 + (res["posts_answered_s"] or 0)
    res["burst"] = get_stats(samples, t0, burst_end)
    slow = sorted((s for s in samples if s[0] >= t0), key=lambda s: -s[1])[:1]
    res["get_max_at_s"] = slow[0][0] - t0 if slow else None
    idle = get_stats(samples, t_idle, t_idle + a.idle)
    res["idle_gets"], res["idle_p50"], res["idle_p99"] = idle["gets"], idle["get_p50"], idle["get_p99"]
    if a.db:
        res.update(db_details(a.db, min_id, t0_wall))
    if a.post_log:
        res["server"] = server_posts(a.post_log, t0_wall)
    if a.check_tasks and a.token:
        res["api_tasks"] = check_tasks(a.base, a.token, [p[2] for p in ok if p[2]])
    with open(a.out, "a") as f:
        f.write(json.dumps(res) + "\n")
    b = res["burst"]
    log(f"{a.label}: {res['posts_ok']}/{a.n} answered {a.expect} within "
        f"{fmt(res['posts_answered_s'], 2)} s (p50 {fmt(res['post_p50_s'], 2)} s); "
        + (f"all ready after {fmt(res['ready_s'], 2)} s (all done {fmt(res['done_s'], 2)} s), "
           f"ready within 5 s {res.get('ready_within', {}).get('5')}, states {res['states']}; "
           if a.db else "")
        + f"GETs {res['gets']} p50 {fmt(res['get_p50'])} p99 {fmt(res['get_p99'])} "
        f"max {fmt(res['get_max'])} ms (at {fmt(res['get_max_at_s'], 2)} s), errors "
        f"{res['get_errors']}; while the saves were answered: GETs {b['gets']} p50 "
        f"{fmt(b['get_p50'])} p99 {fmt(b['get_p99'])} max {fmt(b['get_max'])} ms; origin "
        f"connections max {res['origin_conns_max']}"
        + ("; DEADLINE HIT" if res["deadline_hit"] else ""))


def db_details(db, min_id, t0_wall):
    """Per item of the burst: when it became ready, how many attempts its task took."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        items = c.execute("SELECT id, state, error, created_ms, updated_ms, fetched_ms "
                          "FROM items WHERE id > ?", (min_id,)).fetchall()
        tasks = c.execute("SELECT t.attempts, t.state, t.error FROM tasks t "
                          "WHERE t.item_id > ?", (min_id,)).fetchall()
    finally:
        c.close()
    t0_ms = t0_wall * 1000.0
    ready = [(r[5] - t0_ms) / 1000.0 for r in items if r[1] == "ready" and r[5]]
    out = {"ready_p50_s": pct(ready, 50), "ready_p90_s": pct(ready, 90),
           "ready_first_s": min(ready) if ready else None,
           "ready_within": {str(w): sum(1 for s in ready if s <= w) for w in (5, 10, 30, 60)}}
    # completions per 2 s window since the burst: waves show a concurrency cap
    waves = {}
    for s in ready:
        k = int(s // 2) * 2
        waves[k] = waves.get(k, 0) + 1
    out["ready_per_2s"] = [[k, waves[k]] for k in sorted(waves)]
    att = {}
    for r in tasks:
        att[r[0]] = att.get(r[0], 0) + 1
    out["task_attempts"] = {str(k): v for k, v in sorted(att.items())}
    errs = {}

    def norm(e):        # "timed out after 30000 ms (… after 1043 milliseconds …)": one key
        head, sep, tail = e.partition(" (")
        return head + sep + re.sub(r"\d+(?= (ms|milliseconds|bytes))", "N", tail)
    for r in items:
        if r[2]:
            errs[norm(r[2])] = errs.get(norm(r[2]), 0) + 1
    for r in tasks:
        if r[2]:
            k = "task: " + norm(r[2])
            errs[k] = errs.get(k, 0) + 1
    out["errors_seen"] = errs
    return out


def server_posts(path, t0_wall):
    """httpd's own view of the burst's POSTs (the log line of each: request time in ms,
    duration in µs, status): when it read them and when it had answered them, in s
    after the burst was released."""
    rows = []
    try:
        with open(path) as f:
            for ln in f:
                p = ln.split()
                if len(p) == 3 and int(p[0]) >= t0_wall * 1000 - 1000:
                    rows.append((int(p[0]) / 1000.0 - t0_wall, int(p[1]) / 1e6, p[2]))
    except (OSError, ValueError):
        return None
    if not rows:
        return None
    got = [r[0] for r in rows]
    done = [r[0] + r[1] for r in rows]
    dur = [r[1] for r in rows]
    return {"posts": len(rows), "read_p50_s": pct(got, 50), "read_last_s": max(got),
            "answered_first_s": min(done), "answered_p50_s": pct(done, 50),
            "answered_last_s": max(done), "duration_p50_s": pct(dur, 50),
            "duration_p90_s": pct(dur, 90), "duration_max_s": max(dur),
            "statuses": dict(sorted({s: sum(1 for r in rows if r[2] == s)
                                     for s in {r[2] for r in rows}}.items()))}


def check_tasks(base, token, task_ids):
    """GET /api/tasks/{id} for every task of the burst: 303 = done, 200 = failed, 202 =
    still queued/running."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
    counts = {}
    for tid in task_ids:
        c.request("GET", f"/api/tasks/{tid}", headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        r.read()
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    c.close()
    return counts


# --------------------------------------------------------------------- accept phase
def accept(label, db, engine, conns, path):
    out = open(path, errors="replace").read()
    m = re.search(r"^SAVEBENCH (.*)$", out, re.M)
    r = {"kind": "accept", "label": label, "db": db, "engine": engine, "conns": int(conns)}
    if not m:
        r["error"] = "no SAVEBENCH line in " + path
        print(json.dumps(r))
        log(f"{label}: {r['error']}")
        return
    j = json.loads(m.group(1))
    dur = j["duration_us"] / 1e6
    r.update(j)
    r["rate_202"] = j["n202"] / dur if dur else None
    r["rate_all"] = j["requests"] / dur if dur else None
    print(json.dumps(r))
    log(f"{label}: {fmt(r['rate_202'], 0)} saves/s answered 202 ({j['n202']} in {dur:.1f} s), "
        f"other statuses {j['other']}, p50 {j['p50_us'] / 1000:.2f} ms, p99 "
        f"{j['p99_us'] / 1000:.2f} ms, socket errors {j['errors']}")


def sqlite_count(db):
    print(json.dumps(db_states(db)))


# ----------------------------------------------------------------------------- report
def report(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    out = []
    hols = sorted((r for r in rows if r["kind"] == "hol"), key=lambda r: r.get("rank", 0))
    if hols:
        out.append("| server | saves | answered (status) | answer p50 / p90 / last s | all ready s "
                   "| ready within 5 s / 10 s / 30 s | ready p50 / p90 s |")
        out.append("|---|---|---|---|---|---|---|")
        for r in hols:
            answers = (f"{fmt(r['post_p50_s'], 2)} / {fmt(r.get('post_p90_s'), 2)} / "
                       f"{fmt(r['posts_answered_s'], 2)}")
            if r["poll"] == "db":
                ready = fmt(r["ready_s"], 2)
                if r["ready_s"] is None:
                    ready = (f"not within {int(r['window_s'])} s" if r["deadline_hit"]
                             else f"never: {r['states']}")
                w = r.get("ready_within", {})
                within = " / ".join(str(w.get(k, "-")) for k in ("5", "10", "30"))
                rp = f"{fmt(r.get('ready_p50_s'), 2)} / {fmt(r.get('ready_p90_s'), 2)}"
            else:
                ready = fmt(r["posts_answered_s"], 2) + " (saved when answered)"
                within, rp = "-", "-"
            out.append(f"| {r['label']} | {r['n']} | {r['posts_ok']}/{r['n']} ({r['expect']}) | "
                       f"{answers} | {ready} | {within} | {rp} |")
        out.append("")
        out.append("| server | GETs during | GETs | p50 ms | p99 ms | max ms | errors |")
        out.append("|---|---|---|---|---|---|---|")
        for r in hols:
            b = r["burst"]
            whole = ("the run (until all ready)" if r["poll"] == "db" and not r["deadline_hit"]
                     else f"the run ({int(r['window_s'])} s, cut off)" if r["deadline_hit"]
                     else "the run (until the last save)")
            out.append(f"| {r['label']} | idle, before (2 s) | {r['idle_gets']} | "
                       f"{fmt(r['idle_p50'])} | {fmt(r['idle_p99'])} | - | - |")
            if r["poll"] == "db":
                out.append(f"| {r['label']} | the saves' answers ({fmt(r['posts_answered_s'], 1)} s) | "
                           f"{b['gets']} | {fmt(b['get_p50'])} | {fmt(b['get_p99'])} | "
                           f"{fmt(b['get_max'])} | {b['get_errors']} |")
            out.append(f"| {r['label']} | {whole} | {r['gets']} | {fmt(r['get_p50'])} | "
                       f"{fmt(r['get_p99'])} | {fmt(r['get_max'])} | {r['get_errors']} |")
        out.append("")
        for r in hols:
            notes = [f"{r.get('posters', 1)} client processes, connections opened before the "
                     f"burst, load average (1 min) {r.get('load', '-')} at the burst"]
            if r.get("connect_errors"):
                notes.append(f"{r['connect_errors']} connections could not be opened")
            if r.get("post_errors"):
                notes.append(f"{r['n_post_errors']} saves not answered {r['expect']}: "
                             + ", ".join(r["post_errors"]))
            if r.get("get_error_kinds"):
                notes.append("GET errors: " + ", ".join(r["get_error_kinds"]))
            sv = r.get("server")
            if sv:
                notes.append(f"httpd's own log of the {sv['posts']} POSTs: read by "
                             f"{fmt(sv['read_p50_s'], 2)} s (p50) / {fmt(sv['read_last_s'], 2)} s "
                             f"(last), answered from {fmt(sv['answered_first_s'], 2)} s, p50 "
                             f"{fmt(sv['answered_p50_s'], 2)} s, the last at "
                             f"{fmt(sv['answered_last_s'], 2)} s; time in httpd p50 "
                             f"{fmt(sv['duration_p50_s'], 2)} s, p90 {fmt(sv['duration_p90_s'], 2)}"
                             f" s, max {fmt(sv['duration_max_s'], 2)} s; statuses "
                             + json.dumps(sv["statuses"]))
            if r.get("answers_per_s"):
                notes.append(f"first answer after {fmt(r.get('post_first_s'), 2)} s, answers per "
                             "second since the burst " + ", ".join(
                                 f"{k}–{k + 1} s: {v}" for k, v in r["answers_per_s"]))
            if r.get("get_max_at_s") is not None:
                notes.append(f"the slowest GET started {fmt(r['get_max_at_s'], 2)} s after the burst")
            if r["poll"] == "db":
                notes.append("states at the end " + json.dumps(r["states"]))
                notes.append("task attempts " + json.dumps(r.get("task_attempts")))
                if r.get("errors_seen"):
                    notes.append("errors recorded " + json.dumps(r["errors_seen"]))
                if r.get("ready_per_2s"):
                    notes.append("items ready per 2 s since the burst "
                                 + ", ".join(f"{k}–{k + 2} s: {v}" for k, v in r["ready_per_2s"]))
            if r.get("holders"):
                hs = r["holders"]
                pick = []
                for want in (1, 3, 5, 10, 20, 40, 60, 90):
                    near = min(hs, key=lambda h: abs(h[0] - want))
                    if abs(near[0] - want) < 0.6 and near not in pick:
                        pick.append(near)
                notes.append("tasks queued / running per child (lease owner) at "
                             + ", ".join(f"{h[0]:.0f} s: {h[1]} / {h[2]}" for h in pick))
            if r.get("origin_conns_max") is not None:
                notes.append(f"connections open to the origin: max {r['origin_conns_max']}, "
                             f"median {fmt(r['origin_conns_median'], 0)} (sampled every 0.25 s)")
            if r.get("api_tasks"):
                notes.append("GET /api/tasks/{id} afterwards " + json.dumps(r["api_tasks"]))
            if r.get("deadline_hit"):
                notes.append("the run hit its deadline")
            out.append(f"- {r['label']}: " + "; ".join(notes) + ".")
        out.append("")
    acc = [r for r in rows if r["kind"] == "accept"]
    if acc:
        cells = {}
        for r in acc:
            cells.setdefault((r["db"], r["engine"], r["conns"]), []).append(r)
        runs = max(len(v) for v in cells.values())
        out.append("| database | engine | conns | saves/s answered 202 |"
                   + (" min–max |" if runs > 1 else "")
                   + " p50 ms | p99 ms | max ms | other statuses | socket errors "
                   "| load (1 min) at the start | items by state after the run |")
        out.append("|---|---|---|---|" + ("---|" if runs > 1 else "") + "---|---|---|---|---|---|---|")
        for (db, eng, conns), rs in cells.items():
            good = [r for r in rs if not r.get("error")]
            if not good:
                out.append(f"| {db} | {eng} | {conns} | {rs[0]['error']} |")
                continue

            def m(k, div=1.0):
                return statistics.median([r[k] / div for r in good])
            rates = [r["rate_202"] for r in good]
            span = f" {min(rates):.0f}–{max(rates):.0f} |" if runs > 1 else ""
            out.append(f"| {db} | {eng} | {conns} | {m('rate_202'):.0f} |{span} "
                       f"{m('p50_us', 1000):.2f} | {m('p99_us', 1000):.2f} | "
                       f"{m('max_us', 1000):.2f} | {sum(r['other'] for r in good)} | "
                       f"{sum(r['errors'] for r in good)} | "
                       + ", ".join(f"{r['load']:.1f}" for r in good if r.get("load") is not None)
                       + f" | {good[-1].get('tasks_after', '-')} |")
        if runs > 1:
            out.append("")
            out.append(f"Median of {runs} runs per cell (each column its own median); statuses "
                       "and errors summed; items by state after the last run.")
    print("\n".join(out))


def main(argv):
    if argv[:1] == ["freeport"]:
        return freeport()
    if argv[:1] == ["origin"] and len(argv) == 3:
        return origin(int(argv[1]), argv[2])
    if argv[:1] == ["origin-check"] and len(argv) == 4:
        return origin_check(argv[1], int(argv[2]), int(argv[3]))
    if argv[:1] == ["accept"] and len(argv) == 6:
        return accept(*argv[1:])
    if argv[:1] == ["sqlite-count"] and len(argv) == 2:
        return sqlite_count(argv[1])
    if argv[:1] == ["report"] and len(argv) == 2:
        return report(argv[1])
    if argv[:1] == ["hol"]:
        ap = argparse.ArgumentParser(prog="savebench.py hol")
        ap.add_argument("--label", required=True)
        ap.add_argument("--rank", type=int, default=0, help="order in the report's tables")
        ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT of the server")
        ap.add_argument("--token", default="")
        ap.add_argument("--n", type=int, default=1000)
        ap.add_argument("--url-fmt", required=True, help="URL saved by save #{i} ({tag} too)")
        ap.add_argument("--tag", default="")
        ap.add_argument("--spread", type=int, default=1, help="{h} in --url-fmt is i %% spread")
        ap.add_argument("--expect", type=int, default=202)
        ap.add_argument("--get-url", required=True)
        ap.add_argument("--getters", type=int, default=4)
        ap.add_argument("--posters", type=int, default=4, help="client processes of the burst")
        ap.add_argument("--db", default="", help="SQLite file to poll for ready items")
        ap.add_argument("--poll-ms", type=float, default=20)
        ap.add_argument("--origin-port", type=int, default=0)
        ap.add_argument("--idle", type=float, default=2.0)
        ap.add_argument("--deadline", type=float, default=180)
        ap.add_argument("--check-tasks", action="store_true")
        ap.add_argument("--post-log", default="", help="httpd's log of the POSTs (msec D status)")
        ap.add_argument("--out", required=True)
        return hol(ap.parse_args(argv[1:]))
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
