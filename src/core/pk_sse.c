/* mod_poketto — Server-Sent Events framing; see pk_sse.h. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "pk_sse.h"

/* Room for s with its line breaks turned into "\n" + prefix. */
static apr_size_t breaks(const char *s, apr_size_t len)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; ++i) {
        if (s[i] == '\n' || (s[i] == '\r' && !(i + 1 < len && s[i + 1] == '\n'))) {
            ++n;
        }
    }
    return n;
}

const char *pk_sse_event(apr_pool_t *p, apr_int64_t id, const char *type, const char *data,
                         apr_size_t len, apr_size_t *outlen)
{
    const char *head = apr_psprintf(p, "id: %" APR_INT64_T_FMT "\nevent: ", id);
    apr_size_t hlen = strlen(head), tlen = type ? strlen(type) : 0, i, o;
    char *out = apr_palloc(p, hlen + tlen + sizeof("\ndata: ") - 1
                              + len + breaks(data, len) * (sizeof("data: ") - 1 + 1)
                              + sizeof("\n\n"));

    memcpy(out, head, hlen);
    o = hlen;
    for (i = 0; i < tlen; ++i) {
        out[o++] = (type[i] == '\r' || type[i] == '\n') ? ' ' : type[i];
    }
    memcpy(out + o, "\ndata: ", sizeof("\ndata: ") - 1);
    o += sizeof("\ndata: ") - 1;
    for (i = 0; i < len; ++i) {
        if (data[i] == '\r' || data[i] == '\n') {
            if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') {
                ++i;
            }
            memcpy(out + o, "\ndata: ", sizeof("\ndata: ") - 1);
            o += sizeof("\ndata: ") - 1;
        }
        else {
            out[o++] = data[i];
        }
    }
    memcpy(out + o, "\n\n", 3);
    o += 2;
    *outlen = o;
    return out;
}

const char *pk_sse_comment(apr_pool_t *p, const char *text, apr_size_t *outlen)
{
    char *out = apr_pstrcat(p, ": ", text ? text : "", "\n\n", NULL), *c;
    apr_size_t len = strlen(out);

    for (c = out + 2; c < out + len - 2; ++c) {
        if (*c == '\r' || *c == '\n') {
            *c = ' ';
        }
    }
    *outlen = len;
    return out;
}

const char *pk_sse_retry(apr_pool_t *p, int ms, apr_size_t *outlen)
{
    const char *out = apr_psprintf(p, "retry: %d\n\n", ms < 0 ? 0 : ms);

    *outlen = strlen(out);
    return out;
}

int pk_sse_parse_id(const char *s, apr_int64_t *id)
{
    apr_int64_t v = 0;
    const char *c;

    if (!s || !*s || strlen(s) > 18) {
        return 0;
    }
    for (c = s; *c; ++c) {
        if (!apr_isdigit(*c)) {
            return 0;
        }
        v = v * 10 + (*c - '0');
    }
    *id = v;
    return 1;
}
