/* fuzz_extract.c - libFuzzer harness for pk_charset.c, pk_extract.c and pk_sanitize.c.
 *
 * The input is decoded with pk_charset_to_utf8() (the first byte picks a declared
 * charset), then extracted with pk_extract(); the article's strings must be valid UTF-8
 * and the HTML must hold no script, event handler or javascript: URL. The input, cut
 * in two at its first newline, is also given to pk_sanitize_resolve().
 *
 * Built and run by `make fuzz` (tests/fuzz/fuzz_*.c). A seed corpus from the
 * development pages makes it reach deeper at once:
 *   mkdir -p build/fuzz/corpus-fuzz_extract && for f in ../shared/data/extraction/dev/?*.html;
 *   do head -c 65536 "$f" > build/fuzz/corpus-fuzz_extract/$(basename "$f"); done
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <libxml/parser.h>

#include "pk_charset.h"
#include "pk_extract.h"
#include "pk_utf8.h"
#include "pk_sanitize.h"
#include "fuzz_common.h"

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_app_initialize(NULL, NULL, NULL);
    xmlInitParser();
    apr_pool_create(&root, NULL);
    return 0;
}

static void valid_utf8(const char *s)
{
    if (s)
        REQUIRE(pk_utf8_valid_prefix(s, strlen(s)) == strlen(s));
}

/* Is the sanitised HTML safe? Every tag is parsed (names, then attributes whose values
 * are double-quoted and escaped): no script/style/form-control/object/embed element, no
 * on* attribute, no URL attribute with a script scheme. Text is escaped, so '<' starts a
 * tag. */
static int html_safe(const char *h)
{
    static const char *const bad_tags[] = { "script", "style", "form", "object", "embed",
                                            "input", "button", "textarea", "select", NULL };
    const char *c = h;
    int i, ok = 1;

    while (ok && (c = strchr(c, '<')) != NULL) {
        const char *name = c[1] == '/' ? c + 2 : c + 1, *q = name;
        for (i = 0; bad_tags[i]; ++i) {
            size_t n = strlen(bad_tags[i]);
            if (strncasecmp(name, bad_tags[i], n) == 0 && (name[n] == '>' || name[n] == ' '))
                ok = 0;
        }
        while (*q && *q != ' ' && *q != '>')
            ++q;
        while (ok && *q == ' ') {
            const char *an = ++q;
            size_t al;
            while (*q && *q != '=' && *q != ' ' && *q != '>')
                ++q;
            al = (size_t)(q - an);
            if (al >= 2 && (an[0] | 32) == 'o' && (an[1] | 32) == 'n')
                ok = 0;
            if (*q == '=') {
                const char *v = q + 2, *e = strchr(v, '"');
                if (q[1] != '"' || !e)
                    ok = 0;
                else if ((al == 4 && !strncmp(an, "href", 4)) || (al == 3 && !strncmp(an, "src", 3))
                         || (al == 6 && !strncmp(an, "poster", 6)) || (al == 4 && !strncmp(an, "cite", 4)))
                    if (!strncasecmp(v, "javascript:", 11) || !strncasecmp(v, "vbscript:", 9)
                        || !strncasecmp(v, "data:text", 9))
                        ok = 0;
                q = e ? e + 1 : q + 1;
            }
        }
        if (ok && *q != '>')
            ok = 0;
        c = q;
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const charsets[] = { NULL, "utf-8", "iso-8859-1", "shift_jis",
                                            "utf-16le", "x-unknown", "koi8-r", "gbk" };
    apr_pool_t *p;
    const char *html = NULL, *used = NULL;
    apr_size_t len = 0;
    pk_article *a = NULL;
    apr_status_t rv;

    apr_pool_create(&p, root);
    rv = pk_charset_to_utf8(p, (const char *)data, size,
                            charsets[size ? data[0] % 8 : 0], &html, &len, &used);
    REQUIRE(rv == APR_SUCCESS && html && used);
    REQUIRE(pk_utf8_valid_prefix(html, len) == len && memchr(html, 0, len) == NULL);
    rv = pk_extract(p, html, len, "https://example.com/a/b.html", NULL, &a);
    REQUIRE(rv == APR_SUCCESS || rv == APR_ENOENT);
    if (a) {
        REQUIRE(a->title && a->text && a->html);
        REQUIRE(strlen(a->text) == a->text_len && strlen(a->html) == a->html_len);
        valid_utf8(a->title);
        valid_utf8(a->text);
        valid_utf8(a->html);
        valid_utf8(a->byline);
        valid_utf8(a->excerpt);
        valid_utf8(a->site_name);
        REQUIRE(html_safe(a->html));
    }
    {
        const char *nl = memchr(html, '\n', len);
        const char *base = nl ? apr_pstrmemdup(p, html, (apr_size_t)(nl - html)) : html;
        const char *ref = nl ? nl + 1 : "x";
        const char *r = pk_sanitize_resolve(p, base, ref);
        if (r)
            valid_utf8(r);
    }
    apr_pool_destroy(p);
    return 0;
}
