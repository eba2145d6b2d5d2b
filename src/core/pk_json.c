/* mod_poketto — jansson values tied to APR pools; see pk_json.h. */
#include <string.h>
#include <apr_strings.h>

#include "pk_json.h"

static apr_status_t json_release(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

json_t *pk_json_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_release, apr_pool_cleanup_null);
    }
    return j;
}

typedef struct {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
} dump_buf;

static int dump_cb(const char *data, size_t size, void *baton)
{
    dump_buf *b = baton;
    char *nbuf;

    if (b->len + size + 1 > b->cap) {
        apr_size_t ncap = b->cap ? b->cap : 1024;
        while (ncap < b->len + size + 1) {
            ncap *= 2;
        }
        nbuf = apr_palloc(b->p, ncap);
        if (b->len) {
            memcpy(nbuf, b->buf, b->len);
        }
        b->buf = nbuf;
        b->cap = ncap;
    }
    memcpy(b->buf + b->len, data, size);
    b->len += size;
    b->buf[b->len] = '\0';
    return 0;
}

const char *pk_json_dump(apr_pool_t *p, const json_t *j, size_t flags, apr_size_t *len)
{
    dump_buf b = { p, NULL, 0, 0 };

    if (json_dump_callback(j, dump_cb, &b, flags) != 0) {
        *len = 0;
        return NULL;
    }
    *len = b.len;
    return b.buf ? b.buf : apr_pstrdup(p, "");
}

const char *pk_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
