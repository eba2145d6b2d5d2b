#!/usr/bin/env node
// bench/pushbench.js — the client side of bench/push.sh (live push: WebSocket and SSE).
//
//   node pushbench.js client JSON   hold connections, record when each item.saved arrives
//   node pushbench.js post JSON     save EVENTS pages (POST /api/items with "html"), GAP_MS apart
//   node pushbench.js report JSON   combine the files of one run into one line of figures
//
// JSON is one argument (push.sh builds it). Every time is CLOCK_MONOTONIC in milliseconds
// (process.hrtime.bigint()), the same clock in every process of the machine, so a receipt
// in a client process is compared with the POST's send and 202 times of the post process.
// The server stamps no time of its own on a message (the item's "created" has whole seconds).
//
// client: {kind: "ws"|"sse", urls: [...], n, token, conc, expect, ready, out}
//   opens n connections, round-robin over urls, at most conc handshakes in flight; a 503
//   (the per-child cap of thread mode) is tried again after 1 s, 10 times at most. When
//   every connection is open or failed it writes `ready` (counts, first/last open time,
//   errors). It writes `out` once every open connection has seen `expect`
//   item.saved messages, or on SIGUSR1 / SIGTERM (push.sh's deadline).
// post: {base, token, count, gap_ms, out}
// report: {posts, outs: [...], ready: [...]}  → prints one JSON object
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const now = () => Number(process.hrtime.bigint()) / 1e6;
const mode = process.argv[2];
const cfg = JSON.parse(process.argv[3] || '{}');

function loadWs() {
    const dirs = [process.env.PUSHBENCH_NODE_MODULES,
                  path.join(__dirname, '..', 'tests', 'bin', 'node', 'node_modules')];
    for (const d of dirs) {
        if (!d) continue;
        try { return require(path.join(d, 'ws')); } catch (e) { /* next */ }
    }
    return require('ws');
}

function client() {
    const WebSocket = cfg.kind === 'ws' ? loadWs() : null;
    const recv = {};            // item id → [receipt times]
    let opened = 0, failed = 0, retries = 0, inflight = 0, next = 0, settled = 0;
    let closedAfterOpen = 0, msgs = 0, saved = 0, done = false;
    let tStart = now(), tFirst = null, tLast = null;
    const errors = {};
    const openConns = [];
    const err = (what) => { errors[what] = (errors[what] || 0) + 1; };

    // writes `out` once; exits unless every message came (then push.sh reads this
    // process's CPU time before it signals the exit)
    function finish(why) {
        if (!done) {
            done = true;
            fs.writeFileSync(cfg.out + '.tmp', JSON.stringify({opened, failed, retries,
                closed_after_open: closedAfterOpen, msgs, saved, why, errors, recv}));
            fs.renameSync(cfg.out + '.tmp', cfg.out);
            if (why === 'all') return;
        }
        for (const c of openConns) { try { c.destroy ? c.destroy() : c.terminate(); } catch (e) {} }
        process.exit(0);
    }
    process.on('SIGUSR1', () => finish('deadline'));
    process.on('SIGTERM', () => finish('terminated'));

    function onSaved(id) {
        const t = now();
        (recv[id] = recv[id] || []).push(t);
        saved++;
        if (cfg.expect > 0 && settled === cfg.n && saved >= cfg.expect * opened) finish('all');
    }
    function onMessage(text) {
        msgs++;
        let m;
        try { m = JSON.parse(text); } catch (e) { err('bad json'); return; }
        if (m.type === 'item.saved') onSaved(m.id);
    }
    function settle(ok) {
        settled++;
        inflight--;
        if (ok) {
            opened++;
            tLast = now();
            if (tFirst === null) tFirst = tLast;
        } else {
            failed++;
        }
        if (settled === cfg.n) {
            fs.writeFileSync(cfg.ready, JSON.stringify({opened, failed, retries, errors,
                t_start: tStart, t_first: tFirst, t_last: tLast}));
        }
        pump();
    }
    function openWs(url, attempt) {
        let isOpen = false, over = false;
        const ws = new WebSocket(url, {headers: {Authorization: 'Bearer ' + cfg.token},
                                       perMessageDeflate: false, handshakeTimeout: 30000});
        ws.on('open', () => { isOpen = true; over = true; openConns.push(ws); settle(true); });
        ws.on('message', (data) => onMessage(data.toString()));
        ws.on('unexpected-response', (req, res) => {
            res.resume();
            over = true;
            ws.terminate();
            if (res.statusCode === 503 && attempt < 10) {
                retries++;
                setTimeout(() => openWs(url, attempt + 1), 1000);
                return;
            }
            err('HTTP ' + res.statusCode);
            settle(false);
        });
        ws.on('error', (e) => {
            if (!over) { over = true; err(e.code || e.message); settle(false); }
        });
        ws.on('close', (code) => { if (isOpen && !done) { closedAfterOpen++; err('close ' + code); } });
    }
    function openSse(url, attempt) {
        let over = false, isOpen = false, buf = '';
        const u = new URL(url);
        const req = http.get({host: u.hostname, port: u.port, path: u.pathname + u.search,
                              agent: false, headers: {Accept: 'text/event-stream',
                                                      Authorization: 'Bearer ' + cfg.token}});
        req.setTimeout(30000, () => { if (!over) { over = true; err('timeout'); settle(false); } req.destroy(); });
        req.on('response', (res) => {
            if (res.statusCode !== 200) {
                res.resume();
                over = true;
                if (res.statusCode === 503 && attempt < 10) {
                    retries++;                  // still in flight: tried again
                    setTimeout(() => openSse(url, attempt + 1), 1000);
                    return;
                }
                err('HTTP ' + res.statusCode);
                settle(false);
                return;
            }
            req.setTimeout(0);
            res.setEncoding('utf8');
            res.on('data', (chunk) => {
                buf += chunk;
                let i;
                while ((i = buf.indexOf('\n\n')) >= 0) {
                    const block = buf.slice(0, i);
                    buf = buf.slice(i + 2);
                    for (const line of block.split('\n')) {
                        if (line.startsWith('data: ')) onMessage(line.slice(6));
                        else if (line === ': subscribed' && !isOpen) {
                            isOpen = true; over = true; openConns.push(req); settle(true);
                        }
                    }
                }
            });
            res.on('end', () => { if (isOpen && !done) { closedAfterOpen++; err('stream ended'); } });
        });
        req.on('error', (e) => {
            if (!over) { over = true; err(e.code || e.message); settle(false); }
            else if (isOpen && !done) { closedAfterOpen++; err(e.code || e.message); }
        });
    }
    function pump() {
        while (inflight < cfg.conc && next < cfg.n) {
            const url = cfg.urls[next % cfg.urls.length];
            next++;
            inflight++;
            if (cfg.kind === 'ws') openWs(url, 0); else openSse(url, 0);
        }
    }
    pump();
}

async function post() {
    const agent = new http.Agent({keepAlive: true, maxSockets: 1});
    const u = new URL(cfg.base);
    const res = [];
    const one = (i) => new Promise((resolve) => {
        const body = JSON.stringify({
            url: `http://push.invalid/${process.pid}/${Date.now()}/${i}`,
            html: `<html><head><title>Push ${i}</title></head><body><article><h1>Push ${i}</h1>` +
                  '<p>' + 'A paragraph of the push benchmark page, long enough to be an article. '.repeat(8) +
                  '</p></article></body></html>'});
        const r = {i, status: 0, id: null};
        const req = http.request({host: u.hostname, port: u.port, path: '/api/items', method: 'POST',
                                  agent, headers: {'Content-Type': 'application/json',
                                                   Authorization: 'Bearer ' + cfg.token,
                                                   'Content-Length': Buffer.byteLength(body)}});
        req.setTimeout(30000, () => req.destroy(new Error('timeout')));
        req.on('response', (resp) => {
            let data = '';
            resp.setEncoding('utf8');
            resp.on('data', (c) => { data += c; });
            resp.on('end', () => {
                r.t_202 = now();
                r.status = resp.statusCode;
                try { r.id = JSON.parse(data).item.id; } catch (e) { r.error = 'bad answer'; }
                resolve(r);
            });
        });
        req.on('error', (e) => { r.error = e.message; resolve(r); });
        r.t_send = now();
        req.end(body);
    });
    const t0 = now();
    for (let i = 0; i < cfg.count; i++) {
        const wait = t0 + i * cfg.gap_ms - now();
        if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
        res.push(await one(i));
    }
    fs.writeFileSync(cfg.out, JSON.stringify(res));
    agent.destroy();
}

function pct(sorted, p) {
    if (!sorted.length) return null;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))];
}

function report() {
    const posts = JSON.parse(fs.readFileSync(cfg.posts, 'utf8'));
    let opened = 0, failed = 0, retries = 0, closed = 0, tStart = Infinity, tLast = -Infinity;
    const errors = {};
    const recv = {};
    for (const f of cfg.ready) {
        let r;
        try { r = JSON.parse(fs.readFileSync(f, 'utf8')); } catch (e) { continue; }
        tStart = Math.min(tStart, r.t_start);
        if (r.t_last !== null) tLast = Math.max(tLast, r.t_last);
    }
    for (const f of cfg.outs) {
        let o;
        try { o = JSON.parse(fs.readFileSync(f, 'utf8')); } catch (e) { errors['no client output'] = 1; continue; }
        opened += o.opened; failed += o.failed; retries += o.retries; closed += o.closed_after_open;
        for (const [k, v] of Object.entries(o.errors)) errors[k] = (errors[k] || 0) + v;
        for (const [id, ts] of Object.entries(o.recv)) (recv[id] = recv[id] || []).push(...ts);
    }
    const from202 = [], fromSend = [], perEvent = [];
    let received = 0, okPosts = 0;
    for (const p of posts) {
        if (p.id === null || (p.status !== 202 && p.status !== 201)) continue;
        okPosts++;
        const ts = recv[p.id] || [];
        received += ts.length;
        let mx = -Infinity;
        for (const t of ts) { from202.push(t - p.t_202); fromSend.push(t - p.t_send); mx = Math.max(mx, t - p.t_send); }
        perEvent.push({id: p.id, post_ms: +(p.t_202 - p.t_send).toFixed(1), got: ts.length,
                       last_ms: ts.length ? +mx.toFixed(1) : null});
    }
    from202.sort((a, b) => a - b);
    fromSend.sort((a, b) => a - b);
    const r1 = (x) => (x === null ? null : +x.toFixed(1));
    console.log(JSON.stringify({
        opened, failed, retries, closed_after_open: closed, errors,
        connect_s: tLast > tStart ? +((tLast - tStart) / 1000).toFixed(2) : null,
        connect_rate: tLast > tStart ? Math.round(opened / ((tLast - tStart) / 1000)) : null,
        posts: posts.length, posts_ok: okPosts, expected: okPosts * opened, received,
        p50_202: r1(pct(from202, 50)), p99_202: r1(pct(from202, 99)), max_202: r1(pct(from202, 100)),
        min_202: r1(from202.length ? from202[0] : null),
        p50_send: r1(pct(fromSend, 50)), p99_send: r1(pct(fromSend, 99)), max_send: r1(pct(fromSend, 100)),
        per_event: perEvent}));
}

if (mode === 'client') client();
else if (mode === 'post') post().catch((e) => { console.error(e); process.exit(1); });
else if (mode === 'report') report();
else { console.error('usage: pushbench.js client|post|report JSON'); process.exit(2); }
