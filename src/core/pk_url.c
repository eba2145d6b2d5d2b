/* pk_url.c - validation and canonical form of URLs users save (see pk_url.h). */

#include <locale.h>
#include <string.h>

#include <curl/curl.h>

#include <apr_cstr.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "pk_url.h"

#define PK_URL_WHY_SCHEME      "must be an absolute http or https URL"
#define PK_URL_WHY_NO_HOST     "has no host"
#define PK_URL_WHY_CREDENTIALS "must not contain credentials"
#define PK_URL_WHY_SPACE       "contains whitespace or control characters"
#define PK_URL_WHY_INVALID     "is not a valid URL"

/** Whether c is ASCII whitespace trimmed around a URL (locale-independent). */
static int pk_url_is_trim_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/** Length of the scheme of s[0..n) including its ":" if s starts with a syntactically
 *  valid scheme (ALPHA *(ALPHA / DIGIT / "+" / "-" / ".") ":"), else 0. */
static apr_size_t pk_url_scheme_len(const char *s, apr_size_t n)
{
    apr_size_t i = 0, res = 0;

    if (n > 0 && apr_isalpha(s[0])) {
        for (i = 1; i < n && (apr_isalnum(s[i]) || s[i] == '+' || s[i] == '-'
                              || s[i] == '.'); ++i)
            ;
        if (i < n && s[i] == ':')
            res = i + 1;
    }
    return res;
}

/** Copy s[0..n) into p, percent-encoding (upper-case hex) every byte >= 0x80 from
 *  offset from on; bytes before from are copied verbatim. */
static char *pk_url_encode_non_ascii(apr_pool_t *p, const char *s, apr_size_t n,
                                     apr_size_t from)
{
    static const char hex[] = "0123456789ABCDEF";
    char *res = apr_palloc(p, 3 * n + 1), *d = res;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (i >= from && c >= 0x80) {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 0x0f];
        }
        else {
            *d++ = (char)c;
        }
    }
    *d = '\0';
    return res;
}

/** The host of h converted to punycode (libcurl memory, curl_free() it).
 *  libcurl 7.88 hands the host to libidn2's idn2_lookup_ul(), which reads it in the
 *  charset of the current LC_CTYPE locale; under the "C" locale (httpd's default) every
 *  non-ASCII host fails. So run the conversion with the calling thread switched to the
 *  C.UTF-8 locale (uselocale() is per thread, so this is safe in a threaded MPM). */
static CURLUcode pk_url_get_punycode_host(CURLU *h, char **host)
{
    CURLUcode uc = CURLUE_BAD_HOSTNAME;
    locale_t utf8, old;

    utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (utf8 != (locale_t)0) {
        old = uselocale(utf8);
        uc = curl_url_get(h, CURLUPART_HOST, host, CURLU_PUNYCODE);
        uselocale(old);
        freelocale(utf8);
    }
    return uc;
}

/** Whether the lower-cased ASCII host is a plain name/IPv4 address (a-z 0-9 . - _)
 *  or a bracketed IPv6 address (hex digits, ":" and "." inside "[...]"). */
static int pk_url_host_chars_ok(const char *host)
{
    const char *allowed = (host[0] == '[') ? "[]0123456789abcdef:." : "-._";
    const char *c;
    int ok = (host[0] != '\0');

    for (c = host; ok && *c; ++c) {
        ok = (host[0] != '[' && apr_islower(*c)) || apr_isdigit(*c)
             || strchr(allowed, *c) != NULL;
    }
    return ok;
}

/** Map a curl_url_set() error for a whole URL to a status and a reason. */
static apr_status_t pk_url_set_error(CURLUcode uc, const char **why)
{
    apr_status_t rv = APR_EINVAL;

    switch (uc) {
    case CURLUE_NO_HOST:
        *why = PK_URL_WHY_NO_HOST;
        break;
    case CURLUE_USER_NOT_ALLOWED:
        *why = PK_URL_WHY_CREDENTIALS;
        break;
    case CURLUE_BAD_SCHEME:
    case CURLUE_UNSUPPORTED_SCHEME:
        *why = PK_URL_WHY_SCHEME;
        break;
    case CURLUE_OUT_OF_MEMORY:
        rv = APR_ENOMEM;
        *why = NULL;
        break;
    default:
        *why = PK_URL_WHY_INVALID;
        break;
    }
    return rv;
}

apr_status_t pk_url_canonicalize(apr_pool_t *p, const char *url, apr_size_t max_len,
                                 const char **canon, const char **why)
{
    apr_status_t rv = APR_EINVAL;
    CURLU *h = NULL;
    CURLUcode uc;
    char *host = NULL, *zone = NULL, *out = NULL, *again = NULL, *c;
    const char *s, *e, *q, *scheme;
    apr_size_t slen, auth;
    int round;

    *canon = NULL;
    *why = PK_URL_WHY_INVALID;
    if (url == NULL)
        goto leave;
    if (strlen(url) > max_len) {
        *why = apr_psprintf(p, "is longer than %" APR_SIZE_T_FMT " bytes", max_len);
        goto leave;
    }

    /* Trim, then refuse what no browser would send in a URL. */
    for (s = url; pk_url_is_trim_space(*s); ++s)
        ;
    for (e = s + strlen(s); e > s && pk_url_is_trim_space(e[-1]); --e)
        ;
    for (q = s; q < e; ++q) {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
            *why = PK_URL_WHY_SPACE;
            goto leave;
        }
    }

    /* Scheme: exactly http or https (libcurl would take ftp:, file:, ... too), then
     * "//" and a non-empty authority (libcurl would take "http:/x" and "http:///x"). */
    slen = pk_url_scheme_len(s, (apr_size_t)(e - s));
    scheme = apr_pstrmemdup(p, s, slen);
    if (apr_cstr_casecmp(scheme, "http:") != 0
        && apr_cstr_casecmp(scheme, "https:") != 0) {
        *why = PK_URL_WHY_SCHEME;
        goto leave;
    }
    auth = slen + 2;
    if ((apr_size_t)(e - s) <= auth || strncmp(s + slen, "//", 2) != 0
        || strchr("/?#", s[auth]) != NULL) {
        *why = PK_URL_WHY_NO_HOST;
        goto leave;
    }
    /* Non-ASCII in path, query (and fragment): percent-encode, keep the host as is. */
    auth += strcspn(s + auth, "/?#");
    if (auth > (apr_size_t)(e - s))
        auth = (apr_size_t)(e - s);

    if (NULL == (h = curl_url())) {
        rv = APR_ENOMEM;
        *why = NULL;
        goto leave;
    }
    uc = curl_url_set(h, CURLUPART_URL,
                      pk_url_encode_non_ascii(p, s, (apr_size_t)(e - s), auth),
                      CURLU_DISALLOW_USER);
    if (CURLUE_OK != uc) {
        rv = pk_url_set_error(uc, why);
        goto leave;
    }
    /* An IPv6 zone id ("[fe80::1%25eth0]") names an interface of this server. */
    if (CURLUE_OK == curl_url_get(h, CURLUPART_ZONEID, &zone, 0))
        goto leave;

    /* Host: IDN -> punycode, lower-case, then only DNS-ish characters. */
    if (CURLUE_OK != curl_url_get(h, CURLUPART_HOST, &host, 0))
        goto leave;
    for (c = host; *c && !((unsigned char)*c & 0x80); ++c)
        ;
    if (*c) {
        curl_free(host);
        host = NULL;
        if (CURLUE_OK != pk_url_get_punycode_host(h, &host))
            goto leave;
    }
    for (c = host; *c; ++c)
        *c = (char)apr_tolower(*c);
    if (!pk_url_host_chars_ok(host))
        goto leave;

    if (CURLUE_OK != (uc = curl_url_set(h, CURLUPART_HOST, host, 0))
        || CURLUE_OK != (uc = curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0))
        || CURLUE_OK != (uc = curl_url_get(h, CURLUPART_URL, &out,
                                           CURLU_NO_DEFAULT_PORT))) {
        rv = pk_url_set_error(uc, why);
        goto leave;
    }
    /* A decoded host may parse differently as a whole URL ("3333%33" decodes to "33333",
     * which a URL parser reads as the IPv4 address 0.0.130.53): read the result back
     * until it no longer changes, so that the canonical form of a canonical form is
     * itself. */
    for (round = 0; round < 3; ++round) {
        if (CURLUE_OK != (uc = curl_url_set(h, CURLUPART_URL, out, 0))
            || CURLUE_OK != (uc = curl_url_get(h, CURLUPART_URL, &again,
                                               CURLU_NO_DEFAULT_PORT))) {
            rv = pk_url_set_error(uc, why);
            goto leave;
        }
        if (!strcmp(again, out)) {
            break;
        }
        curl_free(out);
        out = again;
        again = NULL;
    }
    if (round == 3) {
        *why = PK_URL_WHY_INVALID;
        goto leave;
    }
    *canon = apr_pstrdup(p, out);
    *why = NULL;
    rv = APR_SUCCESS;

leave:
    curl_free(again);
    curl_free(out);
    curl_free(zone);
    curl_free(host);
    curl_url_cleanup(h);
    return rv;
}

const char *pk_url_host(apr_pool_t *p, const char *canon)
{
    const char *res = NULL;
    CURLU *h = NULL;
    char *host = NULL;

    if (canon != NULL && NULL != (h = curl_url())
        && CURLUE_OK == curl_url_set(h, CURLUPART_URL, canon, 0)
        && CURLUE_OK == curl_url_get(h, CURLUPART_HOST, &host, 0)) {
        res = apr_pstrdup(p, host);
    }
    curl_free(host);
    curl_url_cleanup(h);
    return res;
}
