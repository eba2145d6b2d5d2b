/* mod_poketto bench — the machine's floor for live push: the same fan-out as
 * bench/push.sh, without httpd.
 *
 *   fanout N WRITERS CLIENTS EVENTS GAP_MS BYTES
 *
 * CLIENTS processes each open N/CLIENTS loopback TCP connections to this process, which
 * accepts them (4 listen addresses, 127.0.0.1-4, as push.sh spreads them). Then, EVENTS
 * times GAP_MS apart, WRITERS threads write one WebSocket text frame of BYTES bytes to
 * each of their share of the N sockets (non-blocking, TCP_NODELAY, one write per
 * socket: what a parked WebSocket's I/O thread does with a user's event), and each
 * client reads it (epoll, level-triggered; one recv per readable socket) and notes the
 * time from the event's start (CLOCK_MONOTONIC, carried in the frame). Prints the
 * percentiles of all receipts and the CPU of writers and clients per event:
 *
 *   floor N=10000 writers=4 clients=2: recv 50000/50000 p50 41.2 p99 120.3 max 131.0 ms;
 *     writer/client CPU per event 120/80 ms
 *
 * Everything is the kernel's loopback TCP and the wake-ups of the receivers: no parsing,
 * no allocation per message. Bounded: at most 100000 connections, 60 s per event.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ADDRS 4
#define MAX_CONNS 100000

static int n, writers, clients, events, gap_ms, bytes;
static int *fds;                    /* the accepted sockets */
static unsigned char *frame;
static double *lat;                 /* shared: N * EVENTS receipts (ms), -1 none */
static volatile int *start_event;   /* shared: the event the writers are on */
static pthread_mutex_t go_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
           + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* End without TIME_WAIT: the sockets close with a reset, so that 2 x N sockets' timers do
 * not fire a minute later, in the middle of the next run of bench/push.sh. */
static void abort_close(int fd)
{
    struct linger l = { 1, 0 };

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* A client process: connections first..first+count-1, all events. */
static void client(int idx, int first, int count, int port)
{
    struct epoll_event ev, evs[512];
    struct sockaddr_in a;
    int *cfd = calloc((size_t)count, sizeof(int));
    int ep = epoll_create1(0), i, k, got, total = count * events, seen = 0;
    char buf[65536];
    double t0, deadline, c0;

    for (i = 0; i < count; ++i) {
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)port);
        a.sin_addr.s_addr = htonl(0x7f000001 + (uint32_t)((first + i) % ADDRS));
        if ((cfd[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0
            || connect(cfd[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
            die("client connect");
        }
        fcntl(cfd[i], F_SETFL, O_NONBLOCK);
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)i;
        epoll_ctl(ep, EPOLL_CTL_ADD, cfd[i], &ev);
    }
    c0 = cpu_ms(RUSAGE_SELF);       /* (the connects are not the events' CPU) */
    deadline = now_ms() + 60e3 * (events + 1) + 60e3;
    while (seen < total && now_ms() < deadline) {
        got = epoll_wait(ep, evs, 512, 200);
        for (k = 0; k < got; ++k) {
            i = (int)evs[k].data.u32;
            ssize_t r = recv(cfd[i], buf, sizeof(buf), 0);
            double t = now_ms();
            ssize_t off;

            if (r <= 0) {
                continue;
            }
            /* frames of BYTES bytes; each carries its event number and start time */
            for (off = 0; off + 16 <= r; off += bytes) {
                int e;

                memcpy(&e, buf + off + 4, sizeof(e));
                memcpy(&t0, buf + off + 8, sizeof(t0));
                if (e >= 0 && e < events) {
                    lat[(size_t)e * n + first + i] = t - t0;
                    ++seen;
                }
            }
        }
    }
    (void)idx;
    printf("%f\n", cpu_ms(RUSAGE_SELF) - c0);
    for (i = 0; i < count; ++i) {
        abort_close(cfd[i]);
    }
    fflush(stdout);
    exit(0);
}

typedef struct { int id; } warg;

static void *writer(void *data)
{
    warg *w = data;
    int e, i, last = -1;
    unsigned char f[65536];
    double t0;

    memcpy(f, frame, (size_t)bytes);
    for (;;) {
        pthread_mutex_lock(&go_mutex);
        while ((e = *start_event) == last) {
            pthread_cond_wait(&go, &go_mutex);
        }
        pthread_mutex_unlock(&go_mutex);
        if (e >= events) {
            break;
        }
        last = e;
        memcpy(&t0, (const void *)&lat[(size_t)n * events], sizeof(t0));   /* start time */
        memcpy(f + 4, &e, sizeof(e));
        memcpy(f + 8, &t0, sizeof(t0));
        for (i = w->id; i < n; i += writers) {
            if (send(fds[i], f, (size_t)bytes, MSG_DONTWAIT | MSG_NOSIGNAL) != bytes) {
                fprintf(stderr, "short write on %d\n", i);
            }
        }
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int ls[ADDRS], port = 0, i, k, one = 1, ok = 0, cpipe[2];
    pid_t *kids;
    pthread_t *th;
    warg *wa;
    double *all, t, wcpu0, wcpu1, ccpu = 0;
    size_t m = 0;
    FILE *fp;

    if (argc != 7) {
        fprintf(stderr, "usage: fanout N WRITERS CLIENTS EVENTS GAP_MS BYTES\n");
        return 2;
    }
    n = atoi(argv[1]);
    writers = atoi(argv[2]);
    clients = atoi(argv[3]);
    events = atoi(argv[4]);
    gap_ms = atoi(argv[5]);
    bytes = atoi(argv[6]);
    if (n < 1 || n > MAX_CONNS || writers < 1 || clients < 1 || events < 1 || bytes < 16
        || bytes > 65000 || gap_ms < 0) {
        fprintf(stderr, "fanout: bad arguments\n");
        return 2;
    }
    lat = mmap(NULL, sizeof(double) * ((size_t)n * events + 1), PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    start_event = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
    if (lat == MAP_FAILED || start_event == MAP_FAILED) {
        die("mmap");
    }
    for (i = 0; i < n * events; ++i) {
        lat[i] = -1;
    }
    *start_event = -1;
    /* a WebSocket text frame: 0x81, 126, length (16 bits), then the payload */
    frame = calloc(1, (size_t)bytes);
    frame[0] = 0x81;
    frame[1] = 126;
    frame[2] = (unsigned char)((bytes - 4) >> 8);
    frame[3] = (unsigned char)((bytes - 4) & 0xff);
    memset(frame + 16, 'x', (size_t)bytes - 16);
    for (k = 0; k < ADDRS; ++k) {
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((unsigned short)port);
        a.sin_addr.s_addr = htonl(0x7f000001 + (uint32_t)k);
        if ((ls[k] = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
            die("socket");
        }
        setsockopt(ls[k], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(ls[k], (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls[k], 4096) < 0) {
            die("listen");
        }
        if (!port) {
            getsockname(ls[k], (struct sockaddr *)&a, &al);
            port = ntohs(a.sin_port);
        }
    }
    if (pipe(cpipe) < 0) {
        die("pipe");
    }
    kids = calloc((size_t)clients, sizeof(pid_t));
    for (k = 0; k < clients; ++k) {
        int first = (int)((long)n * k / clients), last = (int)((long)n * (k + 1) / clients);

        if ((kids[k] = fork()) == 0) {
            close(cpipe[0]);
            dup2(cpipe[1], 1);
            client(k, first, last - first, port);
        }
    }
    close(cpipe[1]);
    fds = calloc((size_t)n, sizeof(int));
    for (i = 0; i < n;) {           /* accepted in any order: each gets every event */
        fd_set rs;
        int mx = 0;

        FD_ZERO(&rs);
        for (k = 0; k < ADDRS; ++k) {
            FD_SET(ls[k], &rs);
            mx = ls[k] > mx ? ls[k] : mx;
        }
        if (select(mx + 1, &rs, NULL, NULL, NULL) < 0) {
            die("select");
        }
        for (k = 0; k < ADDRS && i < n; ++k) {
            if (FD_ISSET(ls[k], &rs)) {
                if ((fds[i] = accept(ls[k], NULL, NULL)) < 0) {
                    die("accept");
                }
                setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                ++i;
            }
        }
    }
    th = calloc((size_t)writers, sizeof(pthread_t));
    wa = calloc((size_t)writers, sizeof(warg));
    for (k = 0; k < writers; ++k) {
        wa[k].id = k;
        pthread_create(&th[k], NULL, writer, &wa[k]);
    }
    sleep(1);
    wcpu0 = cpu_ms(RUSAGE_SELF);
    for (k = 0; k < events; ++k) {
        t = now_ms();
        memcpy(&lat[(size_t)n * events], &t, sizeof(t));
        pthread_mutex_lock(&go_mutex);
        *start_event = k;
        pthread_cond_broadcast(&go);
        pthread_mutex_unlock(&go_mutex);
        usleep((useconds_t)gap_ms * 1000);
    }
    pthread_mutex_lock(&go_mutex);
    *start_event = events;
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&go_mutex);
    for (k = 0; k < writers; ++k) {
        pthread_join(th[k], NULL);
    }
    wcpu1 = cpu_ms(RUSAGE_SELF);
    fp = fdopen(cpipe[0], "r");
    for (k = 0; k < clients; ++k) {
        double c = 0;

        if (fp && fscanf(fp, "%lf", &c) == 1) {
            ccpu += c;
        }
        waitpid(kids[k], NULL, 0);
    }
    for (i = 0; i < n; ++i) {
        abort_close(fds[i]);
    }
    all = calloc((size_t)n * events, sizeof(double));
    for (i = 0; i < n * events; ++i) {
        if (lat[i] >= 0) {
            all[m++] = lat[i];
        }
    }
    qsort(all, m, sizeof(double), cmp);
    ok = m == (size_t)n * events;
    printf("floor N=%d writers=%d clients=%d bytes=%d: recv %zu/%d p50 %.1f p99 %.1f max %.1f ms;"
           " writer/client CPU per event %.0f/%.0f ms\n", n, writers, clients, bytes, m,
           n * events, m ? all[m / 2] : -1, m ? all[(size_t)(m * 0.99)] : -1,
           m ? all[m - 1] : -1, (wcpu1 - wcpu0) / events, ccpu / events);
    return ok ? 0 : 1;
}
