/* mod_poketto — one page fetch with libcurl; see pk_fetch.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "pk_fetch.h"

#define ACCEPT "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.8," \
               "*/*;q=0.1"

struct pk_fetch {
    apr_pool_t *pool;
    CURL *easy;
    const pk_fetch_opts *opts;
    void *baton;
    struct curl_slist *headers;
    char *buf;                      /* malloc'd, freed with the pool */
    apr_size_t len, cap;
    int typed;                      /* the content type was looked at */
    int too_large;
    const char *bad_type;           /* a media type we do not read */
    const char *policy_why;         /* an address the policy refused */
    const char *media_type;
    const char *charset;
    pk_doc_kind_e kind;
    const char *outcome;
    char errbuf[CURL_ERROR_SIZE];
};

static apr_status_t fetch_cleanup(void *data)
{
    pk_fetch *f = data;

    if (f->easy) {
        curl_easy_cleanup(f->easy);
        f->easy = NULL;
    }
    curl_slist_free_all(f->headers);
    f->headers = NULL;
    free(f->buf);
    f->buf = NULL;
    return APR_SUCCESS;
}

/* Split "text/html; charset=UTF-8" into a lower-case media type and the charset. */
static void parse_content_type(pk_fetch *f, const char *ct)
{
    const char *semi, *cs;
    char *mt, *c;
    apr_size_t n;

    semi = strchr(ct, ';');
    mt = apr_pstrndup(f->pool, ct, semi ? (apr_size_t)(semi - ct) : strlen(ct));
    apr_collapse_spaces(mt, mt);
    for (c = mt; *c; ++c) {
        *c = (char)apr_tolower(*c);
    }
    f->media_type = mt;
    if (semi && (cs = strcasestr(semi, "charset="))) {
        cs += 8;
        while (*cs == ' ' || *cs == '"' || *cs == '\'') {
            ++cs;
        }
        n = strcspn(cs, "\"'; \t");
        if (n > 0 && n < 64) {
            f->charset = apr_pstrndup(f->pool, cs, n);
        }
    }
}

static int classify_type(pk_fetch *f)
{
    const char *ct = NULL;

    f->typed = 1;
    if (CURLE_OK == curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct) && ct && *ct) {
        parse_content_type(f, ct);
    }
    if (!f->media_type || !strcmp(f->media_type, "text/html")
        || !strcmp(f->media_type, "application/xhtml+xml")) {
        f->kind = PK_DOC_HTML;      /* no type at all: servers that say nothing serve HTML */
    }
    else if (!strcmp(f->media_type, "text/plain")) {
        f->kind = PK_DOC_TEXT;
    }
    else if (!strcmp(f->media_type, "application/pdf")) {
        f->kind = PK_DOC_PDF;
    }
    else {
        f->bad_type = f->media_type;
        return 0;
    }
    return 1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *baton)
{
    pk_fetch *f = baton;
    apr_size_t n = size * nmemb, ncap;
    char *nbuf;

    if (!f->typed && !classify_type(f)) {
        return 0;                   /* abort: CURLE_WRITE_ERROR */
    }
    if (f->len + n > f->opts->max_size) {
        f->too_large = 1;           /* aborted, never buffered beyond the limit */
        return 0;
    }
    if (f->len + n + 1 > f->cap) {
        ncap = f->cap ? f->cap : 16384;
        while (ncap < f->len + n + 1) {
            ncap *= 2;
        }
        if (ncap > f->opts->max_size + 1) {
            ncap = f->opts->max_size + 1;
        }
        if (!(nbuf = realloc(f->buf, ncap))) {
            return 0;
        }
        f->buf = nbuf;
        f->cap = ncap;
    }
    memcpy(f->buf + f->len, data, n);
    f->len += n;
    f->buf[f->len] = '\0';
    return n;
}

/* Every connection, of the first request and of each redirect, opens its socket here,
 * with the address libcurl resolved: the policy judges what is really connected to. */
static curl_socket_t open_socket(void *baton, curlsocktype purpose, struct curl_sockaddr *a)
{
    pk_fetch *f = baton;
    const char *why = NULL;

    if (f->opts->policy && !pk_netpolicy_check(f->opts->policy, &a->addr, f->pool, &why)) {
        f->policy_why = why ? why : "the address is not allowed";
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

apr_status_t pk_fetch_create(apr_pool_t *p, const pk_fetch_opts *opts, const char *url,
                             void *baton, pk_fetch **pf)
{
    pk_fetch *f = apr_pcalloc(p, sizeof(*f));
    apr_status_t rv = APR_SUCCESS;
    CURL *e;

    *pf = NULL;
    f->pool = p;
    f->opts = opts;
    f->baton = baton;
    if (!(f->easy = e = curl_easy_init())) {
        rv = APR_ENOMEM;
        goto leave;
    }
    apr_pool_cleanup_register(p, f, fetch_cleanup, apr_pool_cleanup_null);
    f->headers = curl_slist_append(f->headers, "Accept: " ACCEPT);
    if (opts->accept_language && *opts->accept_language) {
        f->headers = curl_slist_append(f->headers, apr_pstrcat(p, "Accept-Language: ",
                                                               opts->accept_language, NULL));
    }
    if (CURLE_OK != curl_easy_setopt(e, CURLOPT_URL, url)
        || CURLE_OK != curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")
        || CURLE_OK != curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")) {
        rv = APR_EINVAL;
        goto leave;
    }
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);          /* threads: no SIGALRM */
    curl_easy_setopt(e, CURLOPT_PROXY, "");             /* no proxy from the environment */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, opts->max_redirects);
    curl_easy_setopt(e, CURLOPT_AUTOREFERER, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, opts->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, opts->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");   /* every coding libcurl decodes */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_size);
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, opts->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f);
    if (opts->resolve) {
        curl_easy_setopt(e, CURLOPT_RESOLVE, opts->resolve);
    }
    *pf = f;
leave:
    return rv;
}

void *pk_fetch_baton(pk_fetch *f)
{
    return f->baton;
}

CURL *pk_fetch_handle(pk_fetch *f)
{
    return f->easy;
}

pk_fetch *pk_fetch_of(CURL *easy)
{
    pk_fetch *f = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
    return f;
}

static const char *host_of(pk_fetch *f)
{
    CURLU *u = curl_url();
    char *host = NULL;
    const char *out = "the host";
    char *url = NULL;

    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url);
    if (u && url && CURLUE_OK == curl_url_set(u, CURLUPART_URL, url, 0)
        && CURLUE_OK == curl_url_get(u, CURLUPART_HOST, &host, 0)) {
        out = apr_pstrdup(f->pool, host);
    }
    curl_free(host);
    curl_url_cleanup(u);
    return out;
}

pk_fetch_outcome_e pk_fetch_finish(pk_fetch *f, CURLcode code, const char **error)
{
    pk_fetch_outcome_e o = PK_FETCH_FAIL;
    long status = 0;
    const char *e = NULL;

    if (code == CURLE_OK && !f->typed) {
        classify_type(f);           /* an empty body never reached on_body */
    }
    switch (code) {
    case CURLE_OK:
        if (f->bad_type) {
            e = apr_psprintf(f->pool, "not an HTML page (%s)", f->bad_type);
            f->outcome = "type";
        }
        else if (f->len == 0) {
            e = "the page is empty";
            f->outcome = "empty";
        }
        else {
            o = PK_FETCH_OK;
            f->outcome = "ok";
        }
        break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (f->bad_type) {
            e = apr_psprintf(f->pool, "not an HTML page (%s)", f->bad_type);
            f->outcome = "type";
        }
        else {
            e = apr_psprintf(f->pool, "the page is larger than %" APR_SIZE_T_FMT " bytes",
                             f->opts->max_size);
            f->outcome = "too_large";
        }
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        e = apr_psprintf(f->pool, "DNS name not found: %s", host_of(f));
        f->outcome = "dns";
        break;
    case CURLE_COULDNT_CONNECT:
        if (f->policy_why) {
            e = apr_psprintf(f->pool, "refused to fetch: %s", f->policy_why);
            f->outcome = "policy";
        }
        else {
            e = apr_psprintf(f->pool, "connection refused by %s", host_of(f));
            f->outcome = "refused";
            o = PK_FETCH_RETRY;
        }
        break;
    case CURLE_OPERATION_TIMEDOUT:
        e = apr_psprintf(f->pool, "timed out after %ld ms (%s)", f->opts->timeout_ms,
                         f->errbuf[0] ? f->errbuf : "no answer");
        f->outcome = "timeout";
        o = PK_FETCH_RETRY;
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        e = apr_psprintf(f->pool, "TLS error: %s",
                         f->errbuf[0] ? f->errbuf : curl_easy_strerror(code));
        f->outcome = "tls";
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        e = apr_psprintf(f->pool, "more than %ld redirects", f->opts->max_redirects);
        f->outcome = "redirects";
        break;
    case CURLE_HTTP_RETURNED_ERROR:
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
        e = apr_psprintf(f->pool, "HTTP %ld", status);
        if (status >= 500 || status == 408 || status == 429) {
            o = PK_FETCH_RETRY;
            f->outcome = "http5xx";
        }
        else {
            f->outcome = "http4xx";
        }
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        e = "redirected to an address that is not http or https";
        f->outcome = "policy";
        break;
    case CURLE_BAD_CONTENT_ENCODING:
        e = "the page's compression is invalid";
        f->outcome = "error";
        break;
    case CURLE_URL_MALFORMAT:
        e = "the URL (or a redirect's) is not valid";
        f->outcome = "error";
        break;
    default:
        e = apr_psprintf(f->pool, "fetch failed: %s",
                         f->errbuf[0] ? f->errbuf : curl_easy_strerror(code));
        f->outcome = "error";
        o = PK_FETCH_RETRY;         /* connection resets, partial replies, ... */
        break;
    }
    *error = e;
    return o;
}

const char *pk_fetch_body(pk_fetch *f, apr_size_t *len)
{
    *len = f->len;
    return f->buf ? f->buf : "";
}

const char *pk_fetch_media_type(pk_fetch *f)
{
    return f->media_type;
}

const char *pk_fetch_charset(pk_fetch *f)
{
    return f->charset;
}

const char *pk_fetch_final_url(pk_fetch *f)
{
    char *url = NULL;

    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url);
    return url ? apr_pstrdup(f->pool, url) : NULL;
}

pk_doc_kind_e pk_fetch_kind(pk_fetch *f)
{
    return f->kind;
}

const char *pk_fetch_outcome_name(pk_fetch *f)
{
    return f->outcome ? f->outcome : "error";
}
