/* poketto-extract - extract the article of saved HTML pages, without a server.
 *
 *   poketto-extract FILE.html [--url URL] [--charset CS] [--json]
 *       prints the article: its metadata and text (or, with --json, one JSON object with
 *       every field, the sanitised HTML included).
 *   poketto-extract --batch IN_DIR OUT_DIR [--url URL] [--charset CS]
 *       writes OUT_DIR/<id>.json for every page of IN_DIR, in the form
 *       shared/tools/extract-eval scores ({"articleBody", "title", "byline", "excerpt",
 *       "siteName", ...}). Pages are IN_DIR/<id>.html or IN_DIR/<id>/source.html; a page's
 *       URL comes from IN_DIR/ground-truth.json ({"<id>": {"url": ...}}) when it has
 *       one, else from --url (default: none, relative links are then dropped). Prints a
 *       summary on stderr: pages, megabytes, seconds spent extracting (file reading
 *       excluded), pages per second.
 *   poketto-extract --bench IN_DIR [--repeat N] [--memory] [--verbose] [--charset CS]
 *       loads every page of IN_DIR in memory, extracts them all N times (default 3), and
 *       prints "pages P bytes B seconds S pages_per_s R cpu_seconds C pages_per_cpu_s R2"
 *       (wall clock and process CPU time); with --memory also, per page, the growth of
 *       the peak resident size (VmHWM) of a forked child that extracts just that page
 *       over its resident size before: "mem ID BYTES PEAK RATIO" lines and a summary line
 *       "mem_ratio median M p90 N max X". --verbose prints "time ID BYTES MS" per page.
 *   --charset CS: the charset an HTTP header would declare (a BOM still wins; without it
 *   the page's <meta> or UTF-8 is used).
 *
 * Exit status: 0, 1 on a usage or I/O error, 2 when a single page has no article.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "pk_charset.h"
#include "pk_extract.h"

typedef struct {
    char *id;
    char *path;
    const char *url;
    char *data;
    size_t len;
} page_t;

static void usage(void)
{
    fprintf(stderr,
            "usage: poketto-extract FILE.html [--url URL] [--charset CS] [--json]\n"
            "       poketto-extract --batch IN_DIR OUT_DIR [--url URL] [--charset CS]\n"
            "       poketto-extract --bench IN_DIR [--repeat N] [--memory] [--verbose] [--charset CS]\n");
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process: what a busy machine does not inflate. */
static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    int ok = 0;

    if (f) {
        ok = 1;
        do {
            if (n == cap) {
                char *nb;
                cap = cap ? cap * 2 : 65536;
                nb = realloc(buf, cap + 1);
                if (!nb) {
                    ok = 0;
                    break;
                }
                buf = nb;
            }
            r = fread(buf + n, 1, cap - n, f);
            n += r;
        } while (r > 0);
        if (ferror(f))
            ok = 0;
        fclose(f);
    }
    if (ok) {
        buf[n] = '\0';
        *data = buf;
        *len = n;
    }
    else
        free(buf);
    return ok;
}

static json_t *article_json(const pk_article *a, int full)
{
    json_t *o = json_object();

#define PUT(k, v) json_object_set_new(o, (k), (v) ? json_string(v) : json_null())
    PUT("title", a->title);
    PUT("byline", a->byline);
    PUT("excerpt", a->excerpt);
    PUT("siteName", a->site_name);
    PUT("publishedTime", a->published);
    PUT("lang", a->lang);
    PUT("dir", a->dir);
    PUT("leadImage", a->lead_image);
    PUT("url", a->url);
    json_object_set_new(o, "wordCount", json_integer((json_int_t)a->word_count));
    json_object_set_new(o, "readingMinutes", json_integer(a->reading_minutes));
    PUT("articleBody", a->text);
    if (full)
        PUT("html", a->html);
#undef PUT
    return o;
}

/* Decode and extract one page; *a NULL when there is no article. */
static apr_status_t extract_page(apr_pool_t *p, const char *data, size_t len, const char *url,
                                 const char *charset, pk_article **a)
{
    const char *html;
    apr_size_t hlen;
    apr_status_t rv = pk_charset_to_utf8(p, data, len, charset, &html, &hlen, NULL);

    *a = NULL;
    if (rv == APR_SUCCESS)
        rv = pk_extract(p, html, hlen, url, NULL, a);
    return rv;
}

static int single(apr_pool_t *p, const char *file, const char *url, const char *charset,
                  int as_json)
{
    char *data;
    size_t len;
    pk_article *a = NULL;
    apr_status_t rv;
    int status = 0;

    if (!read_file(file, &data, &len)) {
        fprintf(stderr, "poketto-extract: %s: %s\n", file, strerror(errno));
        return 1;
    }
    rv = extract_page(p, data, len, url, charset, &a);
    if (rv != APR_SUCCESS || !a) {
        fprintf(stderr, "poketto-extract: %s: no article\n", file);
        status = 2;
    }
    else if (as_json) {
        json_t *o = article_json(a, 1);
        char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(1));
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
    }
    else {
        printf("Title: %s\n", a->title);
        if (a->byline)
            printf("Byline: %s\n", a->byline);
        if (a->published)
            printf("Published: %s\n", a->published);
        if (a->site_name)
            printf("Site: %s\n", a->site_name);
        if (a->lang)
            printf("Lang: %s\n", a->lang);
        if (a->lead_image)
            printf("Image: %s\n", a->lead_image);
        printf("Words: %lu (%d min)\n\n%s\n", (unsigned long)a->word_count,
               a->reading_minutes, a->text);
    }
    free(data);
    return status;
}

static int cmp_page(const void *a, const void *b)
{
    return strcmp(((const page_t *)a)->id, ((const page_t *)b)->id);
}

/* The pages of a folder (paths only), sorted by id; URLs from ground-truth.json. */
static page_t *list_pages(const char *dir, const char *default_url, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    page_t *v = NULL;
    size_t n = 0, cap = 0;
    json_t *gt = NULL;
    char path[4096];

    if (!d) {
        fprintf(stderr, "poketto-extract: %s: %s\n", dir, strerror(errno));
        *count = 0;
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/ground-truth.json", dir);
    gt = json_load_file(path, 0, NULL);
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char *id = NULL, *pp = NULL;
        size_t nl = strlen(e->d_name);
        if (e->d_name[0] == '.')
            continue;
        if (nl > 5 && !strcmp(e->d_name + nl - 5, ".html")) {
            id = strndup(e->d_name, nl - 5);
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            pp = strdup(path);
        }
        else {
            snprintf(path, sizeof(path), "%s/%s/source.html", dir, e->d_name);
            if (stat(path, &st) == 0) {
                id = strdup(e->d_name);
                pp = strdup(path);
            }
        }
        if (!id)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 128;
            v = realloc(v, cap * sizeof(*v));
        }
        v[n].id = id;
        v[n].path = pp;
        v[n].url = default_url;
        v[n].data = NULL;
        v[n].len = 0;
        if (gt) {
            json_t *rec = json_object_get(gt, id), *u = rec ? json_object_get(rec, "url") : NULL;
            if (json_is_string(u))
                v[n].url = strdup(json_string_value(u));
        }
        ++n;
    }
    closedir(d);
    json_decref(gt);
    if (n)
        qsort(v, n, sizeof(*v), cmp_page);
    *count = n;
    return v;
}

static void free_pages(page_t *v, size_t n, const char *default_url)
{
    size_t i;

    for (i = 0; i < n; ++i) {
        free(v[i].id);
        free(v[i].path);
        free(v[i].data);
        if (v[i].url != default_url)
            free((char *)v[i].url);
    }
    free(v);
}

static int batch(apr_pool_t *p, const char *in, const char *out, const char *url,
                 const char *charset)
{
    size_t n, i, bytes = 0, failed = 0;
    page_t *pages = list_pages(in, url, &n);
    double spent = 0;
    int status = 0;

    if (!pages && n == 0)
        return 1;
    mkdir(out, 0777);
    for (i = 0; i < n; ++i) {
        apr_pool_t *pp;
        pk_article *a = NULL;
        json_t *o;
        char path[4096];
        double t0;
        if (!read_file(pages[i].path, &pages[i].data, &pages[i].len)) {
            fprintf(stderr, "poketto-extract: %s: %s\n", pages[i].path, strerror(errno));
            status = 1;
            continue;
        }
        bytes += pages[i].len;
        apr_pool_create(&pp, p);
        t0 = now();
        extract_page(pp, pages[i].data, pages[i].len, pages[i].url, charset, &a);
        spent += now() - t0;
        if (a)
            o = article_json(a, 1);
        else {
            o = json_object();
            json_object_set_new(o, "articleBody", json_string(""));
            ++failed;
        }
        snprintf(path, sizeof(path), "%s/%s.json", out, pages[i].id);
        if (json_dump_file(o, path, JSON_PRESERVE_ORDER) != 0) {
            fprintf(stderr, "poketto-extract: cannot write %s\n", path);
            status = 1;
        }
        json_decref(o);
        apr_pool_destroy(pp);
        free(pages[i].data);
        pages[i].data = NULL;
    }
    fprintf(stderr, "%lu pages (%lu without article), %.1f MB, %.3f s extracting, %.0f pages/s\n",
            (unsigned long)n, (unsigned long)failed, (double)bytes / 1e6, spent,
            spent > 0 ? (double)n / spent : 0.0);
    free_pages(pages, n, url);
    return status;
}

static long rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;

    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, field, strlen(field)))
            v = atol(line + strlen(field));
    if (f)
        fclose(f);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A small page that takes the extractor through its usual paths. */
static const char warm_page[] =
    "<html lang=en><head><title>A title | Site</title><meta charset=utf-8>"
    "<meta property='og:title' content='A title'><meta name=author content='A. B.'>"
    "<script type='application/ld+json'>{\"@context\":\"https://schema.org\","
    "\"@type\":\"NewsArticle\",\"headline\":\"A title\"}</script></head><body>"
    "<nav><ul><li><a href=/x>x</a></li><li><a href=/y>y</a></li></ul></nav>"
    "<article><h1>A title</h1><p class=byline>By A. B.</p><p>One, two, three words of a "
    "first paragraph long enough to be scored, with commas, and a <a href=/l>link</a>.</p>"
    "<figure><img data-src=/i.jpg><figcaption>Caption</figcaption></figure>"
    "<p>Second paragraph, also long enough to count as content for the scoring pass.</p>"
    "<ul><li>item one</li><li>item two</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
    "</article><footer>Footer</footer></body></html>";

static int bench(apr_pool_t *p, const char *in, int repeat, int memory, int verbose,
                 const char *charset)
{
    size_t n, i, bytes = 0;
    page_t *pages = list_pages(in, NULL, &n);
    double t0 = 0, c0 = 0, spent, cpu;
    int r;

    if (!pages || n == 0)
        return 1;
    for (i = 0; i < n; ++i) {
        if (!read_file(pages[i].path, &pages[i].data, &pages[i].len))
            return 1;
        bytes += pages[i].len;
    }
    if (memory) {
        double *ratios = calloc(n, sizeof(double));
        for (i = 0; i < n; ++i) {
            int fds[2], st;
            long delta = -1;
            pid_t pid;
            fflush(stdout);
            if (pipe(fds) != 0)
                return 1;
            pid = fork();
            if (pid == 0) {
                /* the child: peak resident size while extracting, less the start */
                apr_pool_t *pp;
                pk_article *a;
                long start, peak;
                FILE *cr;
                /* fault in the code first (libraries are mapped lazily in a child) */
                apr_pool_create(&pp, p);
                extract_page(pp, warm_page, strlen(warm_page), "http://example.com/a", NULL, &a);
                apr_pool_destroy(pp);
                cr = fopen("/proc/self/clear_refs", "w");
                if (cr) { /* "5": reset the peak resident size to the current one */
                    fputs("5", cr);
                    fclose(cr);
                }
                start = rss_kb("VmRSS:");
                close(fds[0]);
                apr_pool_create(&pp, p);
                extract_page(pp, pages[i].data, pages[i].len, pages[i].url, charset, &a);
                peak = rss_kb("VmHWM:");
                delta = (peak - start) * 1024;
                if (write(fds[1], &delta, sizeof(delta)) != (ssize_t)sizeof(delta))
                    _exit(1);
                _exit(0);
            }
            close(fds[1]);
            if (pid < 0 || read(fds[0], &delta, sizeof(delta)) != (ssize_t)sizeof(delta))
                delta = -1;
            close(fds[0]);
            if (pid > 0)
                waitpid(pid, &st, 0);
            ratios[i] = (double)delta / (double)pages[i].len;
            printf("mem %s %lu %ld %.1f\n", pages[i].id, (unsigned long)pages[i].len, delta,
                   ratios[i]);
        }
        qsort(ratios, n, sizeof(double), cmp_double);
        printf("mem_ratio median %.1f p90 %.1f max %.1f\n", ratios[n / 2],
               ratios[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1], ratios[n - 1]);
        free(ratios);
    }
    /* one warm-up pass, then the timed ones */
    for (r = -1; r < repeat; ++r) {
        if (r == 0) {
            t0 = now();
            c0 = cpu_now();
        }
        for (i = 0; i < n; ++i) {
            apr_pool_t *pp;
            pk_article *a;
            double t1 = now();
            apr_pool_create(&pp, p);
            extract_page(pp, pages[i].data, pages[i].len, pages[i].url, charset, &a);
            apr_pool_destroy(pp);
            if (verbose && r == 0)
                printf("time %s %lu %.2f ms\n", pages[i].id, (unsigned long)pages[i].len,
                       (now() - t1) * 1e3);
        }
    }
    spent = now() - t0;
    cpu = cpu_now() - c0;
    printf("pages %lu bytes %lu seconds %.3f pages_per_s %.1f cpu_seconds %.3f "
           "pages_per_cpu_s %.1f\n", (unsigned long)(n * repeat),
           (unsigned long)(bytes * repeat), spent, (double)(n * repeat) / spent, cpu,
           (double)(n * repeat) / cpu);
    free_pages(pages, n, NULL);
    return 0;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    const char *file = NULL, *url = NULL, *charset = NULL, *in = NULL, *out = NULL;
    int as_json = 0, mode = 0, repeat = 3, memory = 0, verbose = 0, i, status = 0;

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "--charset") && i + 1 < argc)
            charset = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (!strcmp(argv[i], "--batch") && i + 2 < argc) {
            mode = 1;
            in = argv[++i];
            out = argv[++i];
        }
        else if (!strcmp(argv[i], "--bench") && i + 1 < argc) {
            mode = 2;
            in = argv[++i];
        }
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--memory"))
            memory = 1;
        else if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            usage();
            return 1;
        }
    }
    if ((mode == 0 && !file) || repeat < 1) {
        usage();
        return 1;
    }
    apr_app_initialize(NULL, NULL, NULL);
    xmlInitParser();
    apr_pool_create(&p, NULL);
    if (mode == 1)
        status = batch(p, in, out, url, charset);
    else if (mode == 2)
        status = bench(p, in, repeat, memory, verbose, charset);
    else
        status = single(p, file, url, charset, as_json);
    apr_pool_destroy(p);
    xmlCleanupParser();
    apr_terminate();
    return status;
}
