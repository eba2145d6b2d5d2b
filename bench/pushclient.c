/* bench/pushclient.c — a C client for bench/push.sh (CLIENT=c): the "client" role of
 * bench/pushbench.js without node's cost per message, so that the figures show the
 * server's delivery time rather than the client's (node's ws takes 35-40 us of CPU per
 * message here; this takes a few).
 *
 *   pushclient client JSON     (the same JSON and the same output files as pushbench.js)
 *
 * JSON: {kind: "ws"|"sse", urls: [...], n, token, conc, expect, ready, out}. Opens n
 * connections round-robin over urls (ws://ADDR:PORT/PATH or http://ADDR:PORT/PATH, numeric
 * IPv4 only), at most conc handshakes in flight; a 503 is tried again after 1 s, 10 times
 * at most. Writes `ready` once every connection opened or failed, `out` once every open one
 * has seen `expect` item.saved messages (then waits for SIGTERM), or on SIGUSR1/SIGTERM.
 * Times are CLOCK_MONOTONIC in ms, as node's process.hrtime. Answers pings with pongs.
 * Messages are recognised by their first bytes ({"type":"item.saved","id":N,…: the
 * server's format); anything else that is not a {"type":…} object counts as "bad json".
 * One thread, epoll, loopback only: a benchmark tool, not a general WebSocket client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

enum { CONNECTING, SENT, OPEN, OVER };

typedef struct conn {
    int fd, state, url, attempt, ws;
    double retry_at;
    char *buf;
    size_t len, cap;
} conn;

typedef struct target {
    struct sockaddr_in addr;
    char host[96], path[256];
} target;

static volatile sig_atomic_t got_signal;
static const char *why_signal;
static json_t *recv_map, *errors;
static long opened, failed, retries, closed_after_open, msgs, saved, settled, inflight;
static json_int_t nconns, expect, conc;
static int all_reported, done;
static double t_start, t_first = -1, t_last = -1;
static const char *ready_path, *out_path, *token;
static target *targets;
static size_t ntargets;
static int ep;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_signal(int sig)
{
    got_signal = sig;
}

static void err(const char *what)
{
    json_t *v = json_object_get(errors, what);

    json_object_set_new(errors, what, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void write_json(const char *path, json_t *j)
{
    char tmp[4096];

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(j, tmp, JSON_COMPACT) == 0) {
        rename(tmp, path);
    }
    json_decref(j);
}

static void recv_to_json(void);

static void finish(const char *why)
{
    if (!done) {
        done = 1;
        recv_to_json();
        write_json(out_path, json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:O, s:O}",
                                       "opened", (json_int_t)opened, "failed",
                                       (json_int_t)failed, "retries", (json_int_t)retries,
                                       "closed_after_open", (json_int_t)closed_after_open,
                                       "msgs", (json_int_t)msgs, "saved", (json_int_t)saved,
                                       "why", why, "errors", errors, "recv", recv_map));
    }
}

static void settle(int ok)
{
    ++settled;
    --inflight;
    if (ok) {
        ++opened;
        t_last = now_ms();
        if (t_first < 0) {
            t_first = t_last;
        }
    }
    else {
        ++failed;
    }
    if (settled == nconns) {
        write_json(ready_path, json_pack("{s:i, s:i, s:i, s:O, s:f, s:f, s:f}", "opened",
                                         (json_int_t)opened, "failed", (json_int_t)failed,
                                         "retries", (json_int_t)retries, "errors", errors,
                                         "t_start", t_start, "t_first", t_first,
                                         "t_last", t_last));
    }
}

/* Receipt times by item id, in plain arrays while the events arrive (the client shares
 * the CPUs with the server: nothing allocated per message); JSON only at the end. */
#define MAX_IDS 256
static struct { long long id; double *t; size_t n, cap; } rcv[MAX_IDS];
static int nrcv;

static void recv_to_json(void)
{
    char key[32];
    json_t *a;
    size_t j;
    int i;

    for (i = 0; i < nrcv; ++i) {
        snprintf(key, sizeof(key), "%lld", rcv[i].id);
        if (!(a = json_object_get(recv_map, key))) {
            a = json_array();
            json_object_set_new(recv_map, key, a);
        }
        for (j = 0; j < rcv[i].n; ++j) {
            json_array_append_new(a, json_real(rcv[i].t[j]));
        }
        rcv[i].n = 0;
    }
}

static void on_saved(long long id)
{
    double t = now_ms();
    int i;

    for (i = nrcv - 1; i >= 0 && rcv[i].id != id; --i) {
    }
    if (i < 0) {
        if (nrcv == MAX_IDS) {
            err("too many items");
            return;
        }
        i = nrcv++;
        rcv[i].id = id;
    }
    if (rcv[i].n == rcv[i].cap) {
        rcv[i].cap = rcv[i].cap ? rcv[i].cap * 2 : 4096;
        rcv[i].t = realloc(rcv[i].t, rcv[i].cap * sizeof(double));
    }
    rcv[i].t[rcv[i].n++] = t;
    ++saved;
    if (expect > 0 && settled == nconns && saved >= expect * opened && !all_reported) {
        all_reported = 1;
        finish("all");
    }
}

static void on_message(const char *p, size_t len)
{
    static const char saved_prefix[] = "{\"type\":\"item.saved\",\"id\":";
    static const char any_prefix[] = "{\"type\":\"";

    ++msgs;
    if (len > sizeof(saved_prefix) - 1 && !memcmp(p, saved_prefix, sizeof(saved_prefix) - 1)) {
        on_saved(strtoll(p + sizeof(saved_prefix) - 1, NULL, 10));
    }
    else if (len < sizeof(any_prefix) - 1 || memcmp(p, any_prefix, sizeof(any_prefix) - 1)) {
        err("bad json");
    }
}

static void conn_close(conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);               /* (leaves the epoll set with it) */
        c->fd = -1;
    }
    c->len = 0;
}

static void fail(conn *c, const char *what)
{
    if (c->state == OPEN) {
        if (!done) {
            ++closed_after_open;
            err(what);
        }
    }
    else if (c->state != OVER) {
        err(what);
        settle(0);
    }
    c->state = OVER;
    conn_close(c);
}

static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    ssize_t w;

    while (len) {
        if ((w = send(fd, p, len, MSG_NOSIGNAL)) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;              /* (requests and pongs are small: no EAGAIN here) */
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void start(conn *c)
{
    const target *t = &targets[c->url];
    struct epoll_event ev;

    c->len = 0;
    c->state = CONNECTING;
    if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        fail(c, strerror(errno));
        return;
    }
    if (connect(c->fd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) < 0
        && errno != EINPROGRESS) {
        fail(c, errno == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : strerror(errno));
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        fail(c, strerror(errno));
    }
}

static void send_request(conn *c)
{
    const target *t = &targets[c->url];
    struct epoll_event ev;
    char req[1024];
    int n;

    if (c->ws) {
        n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
                     t->path, t->host, token);
    }
    else {
        n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "Accept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n",
                     t->path, t->host, token);
    }
    if (send_all(c->fd, req, (size_t)n) < 0) {
        fail(c, strerror(errno));
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = SENT;
}

/* Frames of an open WebSocket in c->buf: messages, pongs for pings; 0 when c is over. */
static int ws_frames(conn *c)
{
    unsigned char *p = (unsigned char *)c->buf, pong[2 + 4 + 125];
    size_t off = 0, hl, i;
    unsigned long long plen;
    int op;

    while (c->len - off >= 2) {
        op = p[off] & 0x0f;
        plen = p[off + 1] & 0x7f;
        hl = 2;
        if (plen == 126) {
            if (c->len - off < 4) break;
            plen = ((unsigned long long)p[off + 2] << 8) | p[off + 3];
            hl = 4;
        }
        else if (plen == 127) {
            if (c->len - off < 10) break;
            for (plen = 0, i = 0; i < 8; ++i) plen = (plen << 8) | p[off + 2 + i];
            hl = 10;
        }
        if (c->len - off < hl + plen) break;
        if (op == 1 || op == 2) {
            on_message((const char *)p + off + hl, (size_t)plen);
        }
        else if (op == 9 && plen <= 125) {  /* ping: a masked pong (mask 0: same bytes) */
            pong[0] = 0x8a;
            pong[1] = 0x80 | (unsigned char)plen;
            memset(pong + 2, 0, 4);
            memcpy(pong + 6, p + off + hl, plen);
            if (send_all(c->fd, pong, 6 + plen) < 0) {
                fail(c, "pong failed");
                return 0;
            }
        }
        else if (op == 8) {
            char code[32];
            snprintf(code, sizeof(code), "close %d", plen >= 2 ? (p[off + hl] << 8) | p[off + hl + 1] : 1005);
            fail(c, code);
            return 0;
        }
        off += hl + plen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return 1;
}

/* Lines of an open event stream in c->buf: "data: " lines are messages. */
static void sse_lines(conn *c)
{
    size_t off = 0;
    char *nl;

    while ((nl = memchr(c->buf + off, '\n', c->len - off))) {
        size_t l = (size_t)(nl - (c->buf + off));
        if (l > 6 && !memcmp(c->buf + off, "data: ", 6)) {
            on_message(c->buf + off + 6, l - 6);
        }
        off += l + 1;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void on_readable(conn *c)
{
    char *end;
    size_t space;
    ssize_t r;
    int status;

    for (;;) {
        /* a small buffer per connection (10 000 of them share the CPUs with the server):
         * an event is ~450 bytes; it doubles for a handshake or a burst */
        if (c->cap - c->len < 2048) {
            c->cap = c->cap ? c->cap * 2 : 4096;
            c->buf = realloc(c->buf, c->cap);
        }
        space = c->cap - c->len;
        r = recv(c->fd, c->buf + c->len, space, 0);
        if (r == 0) {
            fail(c, c->state == OPEN ? (c->ws ? "closed" : "stream ended") : "closed early");
            return;
        }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            fail(c, errno == ECONNRESET ? "ECONNRESET" : strerror(errno));
            return;
        }
        c->len += (size_t)r;
        if (c->state == SENT) {
            c->buf[c->len < c->cap ? c->len : c->cap - 1] = '\0';
            if (!(end = strstr(c->buf, "\r\n\r\n"))) continue;
            status = (c->len > 12) ? atoi(c->buf + 9) : 0;
            if (status == 503 && c->attempt < 10) {
                ++retries;
                ++c->attempt;
                conn_close(c);
                c->state = CONNECTING;
                c->retry_at = now_ms() + 1000;
                return;
            }
            if (status != (c->ws ? 101 : 200)) {
                char what[32];
                snprintf(what, sizeof(what), "HTTP %d", status);
                fail(c, what);
                return;
            }
            end += 4;
            c->len -= (size_t)(end - c->buf);
            memmove(c->buf, end, c->len);
            if (c->ws) {
                c->state = OPEN;
                settle(1);
            }
            else {
                c->state = -1;      /* SSE: open at ": subscribed" */
            }
        }
        if (c->state == -1) {
            char *sub = memmem(c->buf, c->len, ": subscribed\n", 13);
            if (!sub) continue;
            c->state = OPEN;
            settle(1);
        }
        if (c->ws ? !ws_frames(c) : (sse_lines(c), 0)) {
            return;
        }
        if (c->state == OPEN && (size_t)r < space) {
            return;                 /* a short read took all there was: epoll (level-
                                     * triggered) says when more comes, no recv for EAGAIN */
        }
    }
}

static int parse_url(const char *url, target *t)
{
    const char *p, *slash, *colon;
    char host[64];
    int port;

    if (!strncmp(url, "ws://", 5)) p = url + 5;
    else if (!strncmp(url, "http://", 7)) p = url + 7;
    else return -1;
    slash = strchr(p, '/');
    colon = strchr(p, ':');
    if (!slash || !colon || colon > slash || (size_t)(colon - p) >= sizeof(host)) return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    port = atoi(colon + 1);
    if (port <= 0 || port > 65535) return -1;
    memset(&t->addr, 0, sizeof(t->addr));
    t->addr.sin_family = AF_INET;
    t->addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &t->addr.sin_addr) != 1) return -1;
    snprintf(t->host, sizeof(t->host), "%s:%d", host, port);
    snprintf(t->path, sizeof(t->path), "%s", slash);
    return 0;
}

int main(int argc, char **argv)
{
    json_t *cfg, *urls;
    json_error_t jerr;
    struct epoll_event evs[512];
    conn *conns;
    long next = 0, i;
    int n, k, ws;
    double t;

    if (argc != 3 || strcmp(argv[1], "client")) {
        fprintf(stderr, "usage: pushclient client JSON\n");
        return 2;
    }
    if (!(cfg = json_loads(argv[2], 0, &jerr))
        || json_unpack(cfg, "{s:o, s:I, s:s, s:I, s:I, s:s, s:s}", "urls", &urls, "n",
                       &nconns, "token", &token, "conc", &conc, "expect", &expect,
                       "ready", &ready_path, "out", &out_path)
        || !json_is_array(urls) || !json_array_size(urls)) {
        fprintf(stderr, "pushclient: bad configuration\n");
        return 2;
    }
    ws = strcmp(json_string_value(json_object_get(cfg, "kind")) ?: "ws", "sse") != 0;
    ntargets = json_array_size(urls);
    targets = calloc(ntargets, sizeof(*targets));
    for (i = 0; i < (long)ntargets; ++i) {
        if (parse_url(json_string_value(json_array_get(urls, (size_t)i)) ?: "", &targets[i])) {
            fprintf(stderr, "pushclient: cannot use url %ld\n", i);
            return 2;
        }
    }
    recv_map = json_object();
    errors = json_object();
    conns = calloc((size_t)nconns, sizeof(*conns));
    for (i = 0; i < nconns; ++i) {
        conns[i].fd = -1;
        conns[i].url = (int)(i % (long)ntargets);
        conns[i].ws = ws;
        conns[i].state = OVER;      /* not started */
    }
    signal(SIGUSR1, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(EPOLL_CLOEXEC);
    t_start = now_ms();
    while (!got_signal) {
        while (inflight < conc && next < nconns) {
            conns[next].state = CONNECTING;
            ++inflight;
            start(&conns[next++]);
        }
        t = now_ms();
        for (i = 0; i < next && inflight && retries; ++i) {  /* 503s waiting for their retry */
            if (conns[i].state == CONNECTING && conns[i].fd < 0 && conns[i].retry_at <= t) {
                start(&conns[i]);
            }
        }
        n = epoll_wait(ep, evs, 512, 100);
        for (k = 0; k < n; ++k) {
            conn *c = evs[k].data.ptr;
            if (c->fd < 0) continue;
            if (c->state == CONNECTING) {
                int e = 0;
                socklen_t el = sizeof(e);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
                if (e) {
                    fail(c, e == ECONNREFUSED ? "ECONNREFUSED" : strerror(e));
                    continue;
                }
                send_request(c);
                continue;
            }
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                on_readable(c);
            }
        }
    }
    why_signal = got_signal == SIGUSR1 ? "deadline" : "terminated";
    finish(why_signal);
    /* close with a reset: no TIME_WAIT for N sockets, whose timers would fire a minute
     * later, in the next run of push.sh (measured: 26-44 % of a core of "idle" server
     * CPU, and a p99 of 206 ms instead of ~140, in a run that followed another) */
    for (i = 0; i < nconns; ++i) {
        if (conns[i].fd >= 0) {
            struct linger l = { 1, 0 };

            setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            conn_close(&conns[i]);
        }
    }
    return 0;
}
