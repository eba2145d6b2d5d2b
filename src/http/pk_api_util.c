/* mod_poketto — validation shared by the API handlers; see pk_api_util.h. */
#include <httpd.h>
#include <http_protocol.h>
#include <util_script.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "pk_api_util.h"

int pk_api_check_members(pk_req *pr, json_t *obj, const char *allowed)
{
    const char *key, *hit;
    apr_size_t n;
    json_t *v;

    json_object_foreach(obj, key, v) {
        n = strlen(key);
        hit = n ? strstr(allowed, key) : NULL;
        while (hit && !((hit == allowed || hit[-1] == ' ')
                        && (hit[n] == '\0' || hit[n] == ' '))) {
            hit = strstr(hit + 1, key);
        }
        if (!hit) {
            return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, key,
                                   "unknown field '%s'; allowed: %s", key, allowed);
        }
    }
    return OK;
}

apr_size_t pk_api_utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; ++s) {
        if (((unsigned char)*s & 0xC0) != 0x80) {
            ++n;
        }
    }
    return n;
}

int pk_api_read_tags(pk_req *pr, json_t *v, const char *field, apr_array_header_t **tags)
{
    int max_tags = pk_conf_max_tags(pr->conf);
    int max_len = pk_conf_max_tag_len(pr->conf);
    apr_pool_t *p = pr->r->pool;
    const char *s, *e, *name;
    size_t i;
    int j, dup;

    *tags = NULL;
    if (!v) {
        return OK;
    }
    if (!json_is_array(v)) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, field,
                               "field '%s' must be an array of strings", field);
    }
    if (json_array_size(v) > (size_t)max_tags) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, field,
                               "field '%s' has %zu tags; at most %d are allowed", field,
                               json_array_size(v), max_tags);
    }
    *tags = apr_array_make(p, (int)json_array_size(v) + 1, sizeof(const char *));
    for (i = 0; i < json_array_size(v); ++i) {
        json_t *t = json_array_get(v, i);
        if (!json_is_string(t)) {
            return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, field,
                                   "field '%s': element %zu is not a string", field, i);
        }
        s = json_string_value(t);
        while (*s == ' ' || *s == '\t') {
            ++s;
        }
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            --e;
        }
        name = apr_pstrndup(p, s, (apr_size_t)(e - s));
        if (!*name || pk_api_utf8_chars(name) > (apr_size_t)max_len) {
            return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, field,
                                   "field '%s': element %zu must have 1 to %d characters",
                                   field, i, max_len);
        }
        for (s = name; *s; ++s) {
            if ((unsigned char)*s < 0x20 || *s == 0x7f) {
                return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, field,
                                       "field '%s': element %zu contains a control "
                                       "character", field, i);
            }
        }
        for (dup = 0, j = 0; j < (*tags)->nelts; ++j) {
            dup |= !strcmp(APR_ARRAY_IDX(*tags, j, const char *), name);
        }
        if (!dup) {
            APR_ARRAY_PUSH(*tags, const char *) = name;
        }
    }
    return OK;
}

int pk_api_read_title(pk_req *pr, json_t *obj, apr_size_t max, const char **title, int *has)
{
    json_t *v = json_object_get(obj, "title");

    *title = NULL;
    if (has) {
        *has = (v != NULL);
    }
    if (!v || json_is_null(v)) {
        return OK;
    }
    if (!json_is_string(v) || json_string_length(v) > max
        || strlen(json_string_value(v)) != json_string_length(v)) {
        return pk_http_problem(pr, HTTP_UNPROCESSABLE_ENTITY, "title",
                               "field 'title' must be a string of at most %" APR_SIZE_T_FMT
                               " bytes, or null", max);
    }
    *title = apr_pstrdup(pr->r->pool, json_string_value(v));
    return OK;
}

apr_table_t *pk_api_query(pk_req *pr)
{
    apr_table_t *q = apr_table_make(pr->r->pool, 8);
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    char *args, *key, *value, *state = NULL;
    int i, j;

    /* as ap_args_to_table, but keeping every value: it sets, so the last one won and a
     * repeated parameter went unnoticed */
    args = pr->r->args ? apr_pstrdup(pr->r->pool, pr->r->args) : NULL;
    for (key = args ? apr_strtok(args, "&", &state) : NULL; key;
         key = apr_strtok(NULL, "&", &state)) {
        if ((value = strchr(key, '='))) {
            *value++ = '\0';
        }
        else {
            value = "1";
        }
        ap_unescape_url(key);
        ap_unescape_url(value);
        apr_table_addn(q, key, value);
    }
    arr = apr_table_elts(q);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; ++i) {
        for (j = i + 1; j < arr->nelts; ++j) {
            if (!strcmp(e[i].key, e[j].key)) {
                pk_http_problem(pr, HTTP_BAD_REQUEST, e[i].key,
                                "parameter '%s' is given more than once", e[i].key);
                return NULL;
            }
        }
    }
    return q;
}

int pk_api_parse_int(const char *s, apr_int64_t min, apr_int64_t max, apr_int64_t *n)
{
    char *end = NULL;
    const char *c;

    if (!*s || strlen(s) > 18) {
        return 0;
    }
    for (c = s; *c; ++c) {
        if (!apr_isdigit(*c)) {
            return 0;
        }
    }
    *n = apr_strtoi64(s, &end, 10);
    return *n >= min && *n <= max;
}

const char *pk_api_next_url(pk_req *pr, apr_table_t *q, const char *cursor)
{
    apr_pool_t *p = pr->r->pool;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    const char *url = "";
    int i;

    apr_table_set(q, "cursor", cursor);
    arr = apr_table_elts(q);
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; ++i) {
        url = apr_pstrcat(p, url, i ? "&" : "?", ap_escape_urlencoded(p, e[i].key), "=",
                          ap_escape_urlencoded(p, e[i].val), NULL);
    }
    return apr_pstrcat(p, ap_escape_uri(p, pr->r->uri), url, NULL);
}
