/* pk_sanitize.c - allowlist serialisation of HTML (see pk_sanitize.h). */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>

#include "pk_sanitize.h"

/* ------------------------------------------------------------------------- */
/* Tags                                                                       */

typedef struct {
    const char *name;
    pk_tag_e tag;
} tag_name_t;

/* sorted by name (strcmp order) for bsearch */
static const tag_name_t tag_names[] = {
    { "a", PK_TAG_A }, { "abbr", PK_TAG_ABBR }, { "acronym", PK_TAG_ACRONYM },
    { "address", PK_TAG_ADDRESS }, { "applet", PK_TAG_APPLET }, { "area", PK_TAG_AREA },
    { "article", PK_TAG_ARTICLE }, { "aside", PK_TAG_ASIDE }, { "audio", PK_TAG_AUDIO },
    { "b", PK_TAG_B }, { "base", PK_TAG_BASE }, { "basefont", PK_TAG_BASEFONT },
    { "bdi", PK_TAG_BDI }, { "bdo", PK_TAG_BDO }, { "big", PK_TAG_BIG },
    { "blink", PK_TAG_BLINK }, { "blockquote", PK_TAG_BLOCKQUOTE }, { "body", PK_TAG_BODY },
    { "br", PK_TAG_BR }, { "button", PK_TAG_BUTTON }, { "canvas", PK_TAG_CANVAS },
    { "caption", PK_TAG_CAPTION }, { "center", PK_TAG_CENTER }, { "cite", PK_TAG_CITE },
    { "code", PK_TAG_CODE }, { "col", PK_TAG_COL }, { "colgroup", PK_TAG_COLGROUP },
    { "data", PK_TAG_DATA }, { "datalist", PK_TAG_DATALIST }, { "dd", PK_TAG_DD },
    { "del", PK_TAG_DEL }, { "details", PK_TAG_DETAILS }, { "dfn", PK_TAG_DFN },
    { "dialog", PK_TAG_DIALOG }, { "dir", PK_TAG_DIR }, { "div", PK_TAG_DIV },
    { "dl", PK_TAG_DL }, { "dt", PK_TAG_DT }, { "em", PK_TAG_EM }, { "embed", PK_TAG_EMBED },
    { "fieldset", PK_TAG_FIELDSET }, { "figcaption", PK_TAG_FIGCAPTION },
    { "figure", PK_TAG_FIGURE }, { "font", PK_TAG_FONT }, { "footer", PK_TAG_FOOTER },
    { "form", PK_TAG_FORM }, { "frame", PK_TAG_FRAME }, { "frameset", PK_TAG_FRAMESET },
    { "h1", PK_TAG_H1 }, { "h2", PK_TAG_H2 }, { "h3", PK_TAG_H3 }, { "h4", PK_TAG_H4 },
    { "h5", PK_TAG_H5 }, { "h6", PK_TAG_H6 }, { "head", PK_TAG_HEAD },
    { "header", PK_TAG_HEADER }, { "hgroup", PK_TAG_HGROUP }, { "hr", PK_TAG_HR },
    { "html", PK_TAG_HTML }, { "i", PK_TAG_I }, { "iframe", PK_TAG_IFRAME },
    { "img", PK_TAG_IMG }, { "input", PK_TAG_INPUT }, { "ins", PK_TAG_INS },
    { "kbd", PK_TAG_KBD }, { "label", PK_TAG_LABEL }, { "legend", PK_TAG_LEGEND },
    { "li", PK_TAG_LI }, { "link", PK_TAG_LINK }, { "listing", PK_TAG_LISTING },
    { "main", PK_TAG_MAIN }, { "map", PK_TAG_MAP }, { "mark", PK_TAG_MARK },
    { "marquee", PK_TAG_MARQUEE }, { "math", PK_TAG_MATH }, { "menu", PK_TAG_MENU },
    { "meta", PK_TAG_META }, { "meter", PK_TAG_METER }, { "nav", PK_TAG_NAV },
    { "nobr", PK_TAG_NOBR }, { "noembed", PK_TAG_NOEMBED }, { "noframes", PK_TAG_NOFRAMES },
    { "noscript", PK_TAG_NOSCRIPT }, { "object", PK_TAG_OBJECT }, { "ol", PK_TAG_OL },
    { "optgroup", PK_TAG_OPTGROUP }, { "option", PK_TAG_OPTION }, { "output", PK_TAG_OUTPUT },
    { "p", PK_TAG_P }, { "param", PK_TAG_PARAM }, { "picture", PK_TAG_PICTURE },
    { "plaintext", PK_TAG_PLAINTEXT }, { "pre", PK_TAG_PRE }, { "progress", PK_TAG_PROGRESS },
    { "q", PK_TAG_Q }, { "rp", PK_TAG_RP }, { "rt", PK_TAG_RT }, { "ruby", PK_TAG_RUBY },
    { "s", PK_TAG_S }, { "samp", PK_TAG_SAMP }, { "script", PK_TAG_SCRIPT },
    { "search", PK_TAG_SEARCH }, { "section", PK_TAG_SECTION }, { "select", PK_TAG_SELECT },
    { "slot", PK_TAG_SLOT }, { "small", PK_TAG_SMALL }, { "source", PK_TAG_SOURCE },
    { "span", PK_TAG_SPAN }, { "strike", PK_TAG_STRIKE }, { "strong", PK_TAG_STRONG },
    { "style", PK_TAG_STYLE }, { "sub", PK_TAG_SUB }, { "summary", PK_TAG_SUMMARY },
    { "sup", PK_TAG_SUP }, { "svg", PK_TAG_SVG }, { "table", PK_TAG_TABLE },
    { "tbody", PK_TAG_TBODY }, { "td", PK_TAG_TD }, { "template", PK_TAG_TEMPLATE },
    { "textarea", PK_TAG_TEXTAREA }, { "tfoot", PK_TAG_TFOOT }, { "th", PK_TAG_TH },
    { "thead", PK_TAG_THEAD }, { "time", PK_TAG_TIME }, { "title", PK_TAG_TITLE },
    { "tr", PK_TAG_TR }, { "track", PK_TAG_TRACK }, { "tt", PK_TAG_TT }, { "u", PK_TAG_U },
    { "ul", PK_TAG_UL }, { "var", PK_TAG_VAR }, { "video", PK_TAG_VIDEO },
    { "wbr", PK_TAG_WBR }, { "xmp", PK_TAG_XMP },
};

static int tag_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const tag_name_t *)elem)->name);
}

pk_tag_e pk_sanitize_tag(const char *name)
{
    const tag_name_t *t = NULL;

    if (name && *name)
        t = bsearch(name, tag_names, sizeof(tag_names) / sizeof(tag_names[0]),
                    sizeof(tag_names[0]), tag_cmp);
    return t ? t->tag : PK_TAG_UNKNOWN;
}

/* ------------------------------------------------------------------------- */
/* A growing output buffer in a pool.                                          */

typedef struct {
    apr_pool_t *p;
    char *data;
    apr_size_t len, cap;
} sbuf_t;

static void sb_grow(sbuf_t *b, apr_size_t need)
{
    apr_size_t cap = b->cap ? b->cap : 256;
    char *n;

    while (cap < b->len + need + 1)
        cap *= 2;
    n = apr_palloc(b->p, cap);
    if (b->len)
        memcpy(n, b->data, b->len);
    b->data = n;
    b->cap = cap;
}

static void sb_add(sbuf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n + 1 > b->cap)
        sb_grow(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Append s escaped (attr: for an attribute value). squeeze: runs of ASCII whitespace
 * become one character (a newline if the run had one). */
static void sb_esc_ws(sbuf_t *b, const char *s, int attr, int squeeze)
{
    const char *run = s;

    for (; *s; ++s) {
        const char *rep = NULL;
        if (squeeze && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r' || *s == '\f')
            && (s[1] == ' ' || s[1] == '\n' || s[1] == '\t' || s[1] == '\r' || s[1] == '\f'
                || *s != ' ')) {
            const char *e = s;
            int nl = 0;
            while (*e == ' ' || *e == '\n' || *e == '\t' || *e == '\r' || *e == '\f') {
                nl |= *e == '\n' || *e == '\r';
                ++e;
            }
            sb_add(b, run, (apr_size_t)(s - run));
            sb_add(b, nl ? "\n" : " ", 1);
            s = e - 1;
            run = e;
            continue;
        }
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = attr ? "&quot;" : NULL; break;
        case '\xC2':
            if ((unsigned char)s[1] == 0xA0) /* keep no-break spaces visible as such */
                rep = "&nbsp;";
            break;
        default: break;
        }
        if (rep) {
            sb_add(b, run, (apr_size_t)(s - run));
            sb_str(b, rep);
            if (*s == '\xC2')
                ++s;
            run = s + 1;
        }
    }
    sb_add(b, run, (apr_size_t)(s - run));
}

static void sb_esc(sbuf_t *b, const char *s, int attr)
{
    sb_esc_ws(b, s, attr, 0);
}

static const char *sb_done(sbuf_t *b, apr_size_t *len)
{
    if (!b->data)
        sb_grow(b, 0);
    b->data[b->len] = '\0';
    if (len)
        *len = b->len;
    return b->data;
}

const char *pk_sanitize_escape(apr_pool_t *p, const char *text)
{
    sbuf_t b = { p, NULL, 0, 0 };

    if (text)
        sb_esc(&b, text, 1);
    return sb_done(&b, NULL);
}

/* ------------------------------------------------------------------------- */
/* URL resolution (RFC 3986 section 5.2)                                       */

typedef struct {
    const char *scheme;  /* lower case, without ':'; NULL if none */
    const char *auth;    /* without "//"; NULL if none */
    const char *path;    /* never NULL */
    const char *query;   /* without '?'; NULL if none */
    const char *frag;    /* without '#'; NULL if none */
} url_parts_t;

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Split s (modifiable, from p) into its parts. */
static void url_split(apr_pool_t *p, char *s, url_parts_t *u)
{
    char *c = s, *e;

    memset(u, 0, sizeof(*u));
    if (is_alpha((unsigned char)*c)) {
        for (e = c; is_alpha((unsigned char)*e) || (*e >= '0' && *e <= '9') || *e == '+'
                    || *e == '-' || *e == '.'; ++e)
            ;
        if (*e == ':') {
            *e = '\0';
            for (char *l = c; *l; ++l)
                if (*l >= 'A' && *l <= 'Z')
                    *l = (char)(*l + 32);
            u->scheme = c;
            c = e + 1;
        }
    }
    if ((e = strchr(c, '#')) != NULL) {
        *e = '\0';
        u->frag = e + 1;
    }
    if ((e = strchr(c, '?')) != NULL) {
        *e = '\0';
        u->query = e + 1;
    }
    if (c[0] == '/' && c[1] == '/') {
        c += 2;
        e = strchr(c, '/');
        if (e) {
            u->auth = apr_pstrmemdup(p, c, (apr_size_t)(e - c));
            c = e;
        }
        else {
            u->auth = c;
            c = "";
        }
    }
    u->path = c;
}

/* RFC 3986 5.2.4 remove_dot_segments, into p. */
static char *remove_dots(apr_pool_t *p, const char *in)
{
    apr_size_t n = strlen(in);
    char *out = apr_palloc(p, n + 1);
    apr_size_t o = 0;

    while (*in) {
        if (strncmp(in, "../", 3) == 0)
            in += 3;
        else if (strncmp(in, "./", 2) == 0)
            in += 2;
        else if (strncmp(in, "/./", 3) == 0)
            in += 2;
        else if (strcmp(in, "/.") == 0)
            in = "/";
        else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            in = in[3] ? in + 3 : "/";
            while (o > 0 && out[o - 1] != '/')
                --o;
            if (o > 0)
                --o; /* the '/' */
        }
        else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0)
            in += strlen(in);
        else {
            do
                out[o++] = *in++;
            while (*in && *in != '/');
        }
    }
    out[o] = '\0';
    return out;
}

/* Copy of s without surrounding whitespace/control bytes and without embedded tabs
 * and newlines; '\' -> '/' when backslash is set (before any '?' or '#'); spaces and
 * other control bytes percent-encoded. */
static char *url_clean(apr_pool_t *p, const char *s, int backslash)
{
    apr_size_t n;
    const char *e;
    char *out, *o;
    int in_path = 1;

    while (*s && (unsigned char)*s <= 0x20)
        ++s;
    n = strlen(s);
    while (n > 0 && (unsigned char)s[n - 1] <= 0x20)
        --n;
    out = o = apr_palloc(p, n * 3 + 1);
    for (e = s + n; s < e; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == '?' || c == '#')
            in_path = 0;
        if (c == '\\' && backslash && in_path)
            *o++ = '/';
        else if (c <= 0x20 || c == 0x7F) {
            *o++ = '%';
            *o++ = "0123456789ABCDEF"[c >> 4];
            *o++ = "0123456789ABCDEF"[c & 15];
        }
        else
            *o++ = (char)c;
    }
    *o = '\0';
    return out;
}

static int special_scheme(const char *s)
{
    return s && (strcmp(s, "http") == 0 || strcmp(s, "https") == 0);
}

static const char *url_join(apr_pool_t *p, const url_parts_t *u)
{
    return apr_pstrcat(p, u->scheme ? u->scheme : "", u->scheme ? ":" : "",
                       u->auth ? "//" : "", u->auth ? u->auth : "", u->path,
                       u->query ? "?" : "", u->query ? u->query : "", u->frag ? "#" : "",
                       u->frag ? u->frag : "", NULL);
}

const char *pk_sanitize_resolve(apr_pool_t *p, const char *base, const char *ref)
{
    url_parts_t b, r, t;
    const char *result = NULL;
    char *rs, *bs;
    int base_ok = 0;

    if (ref) {
        memset(&b, 0, sizeof(b));
        if (base) {
            bs = url_clean(p, base, 1);
            url_split(p, bs, &b);
            base_ok = b.scheme != NULL;
            if (special_scheme(b.scheme) && !b.auth)
                base_ok = 0;
        }
        rs = url_clean(p, ref, 1);
        /* a reference with a scheme other than the base's special one is absolute */
        url_split(p, rs, &r);
        if (r.scheme && special_scheme(r.scheme) && base_ok && !r.auth
            && strcmp(r.scheme, b.scheme) == 0 && r.path[0] != '/') {
            r.scheme = NULL; /* "http:foo" relative to an http base (WHATWG) */
        }
        if (r.scheme && special_scheme(r.scheme) && !r.auth) {
            /* "http:/x" or "http:x": take the path's first segment as the host */
            const char *q = r.path;
            while (*q == '/')
                ++q;
            if (*q) {
                const char *sl = strchr(q, '/');
                r.auth = sl ? apr_pstrmemdup(p, q, (apr_size_t)(sl - q)) : q;
                r.path = sl ? sl : "/";
            }
        }
        if (r.scheme) {
            t = r;
            t.path = (t.auth || t.path[0] == '/') ? remove_dots(p, r.path) : r.path;
            if (special_scheme(t.scheme) && !t.path[0])
                t.path = "/";
            result = t.auth || !special_scheme(t.scheme) ? url_join(p, &t) : NULL;
        }
        else if (base_ok) {
            t.scheme = b.scheme;
            t.frag = r.frag;
            if (r.auth) {
                t.auth = r.auth;
                t.path = remove_dots(p, r.path);
                t.query = r.query;
            }
            else {
                t.auth = b.auth;
                if (!r.path[0]) {
                    t.path = b.path;
                    t.query = r.query ? r.query : b.query;
                }
                else {
                    if (r.path[0] == '/')
                        t.path = remove_dots(p, r.path);
                    else {
                        /* merge: base path up to its last '/', then ref's path */
                        const char *slash = strrchr(b.path, '/');
                        const char *merged;
                        if (b.auth && !b.path[0])
                            merged = apr_pstrcat(p, "/", r.path, NULL);
                        else if (slash)
                            merged = apr_pstrcat(p, apr_pstrmemdup(p, b.path,
                                                 (apr_size_t)(slash - b.path + 1)),
                                                 r.path, NULL);
                        else
                            merged = r.path;
                        t.path = remove_dots(p, merged);
                    }
                    t.query = r.query;
                }
            }
            if (special_scheme(t.scheme) && !t.path[0])
                t.path = "/";
            if (t.auth && special_scheme(t.scheme)) {
                char *a = apr_pstrdup(p, t.auth), *l;
                for (l = a; *l; ++l)
                    if (*l >= 'A' && *l <= 'Z')
                        *l = (char)(*l + 32);
                t.auth = a;
            }
            result = url_join(p, &t);
        }
    }
    return result;
}

/* ------------------------------------------------------------------------- */
/* Preparation of the bytes for libxml2                                       */

static int lower_ascii(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int raw_ieq(const char *s, apr_size_t avail, const char *lit)
{
    apr_size_t i, n = strlen(lit);
    int same = avail >= n;

    for (i = 0; same && i < n; ++i)
        same = lower_ascii((unsigned char)s[i]) == lit[i];
    return same;
}

static int is_tag_end_char(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '/'
           || c == '>';
}

/* Index just past the '>' of the tag starting at s[i] ('<'), honouring quoted
 * attribute values; n if the tag does not end. */
static apr_size_t tag_end(const char *s, apr_size_t i, apr_size_t n)
{
    apr_size_t end = n;

    ++i;
    while (i < n) {
        char c = s[i];
        if (c == '>') {
            end = i + 1;
            break;
        }
        if (c == '=') {
            ++i;
            while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
                ++i;
            if (i < n && (s[i] == '"' || s[i] == '\'')) {
                const char *q = memchr(s + i + 1, s[i], n - i - 1);
                i = q ? (apr_size_t)(q - s) + 1 : n;
            }
            continue;
        }
        ++i;
    }
    return end;
}

/* Index of the first "</name" (case-insensitive) at or after i, or n. */
static apr_size_t find_close(const char *s, apr_size_t i, apr_size_t n, const char *name)
{
    apr_size_t nl = strlen(name), found = n;

    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            break;
        i = (apr_size_t)(lt - s);
        if (i + 2 + nl <= n && s[i + 1] == '/' && raw_ieq(s + i + 2, n - i - 2, name)
            && (i + 2 + nl == n || is_tag_end_char((unsigned char)s[i + 2 + nl]))) {
            found = i;
            break;
        }
        ++i;
    }
    return found;
}

/* Does the open tag s[a..b) have a type attribute mentioning "ld+json"? */
static int is_jsonld_tag(const char *s, apr_size_t a, apr_size_t b)
{
    apr_size_t i;
    int found = 0;

    for (i = a; !found && i + 7 <= b; ++i)
        found = raw_ieq(s + i, b - i, "ld+json");
    return found;
}

/* HTML5 void elements libxml2 2.9 parses as containers (swallowing what follows). */
static int void_for_html5(const char *s, apr_size_t avail)
{
    static const char *const names[] = { "embed", "source", "track", "wbr", "keygen", NULL };
    int i, found = 0;

    for (i = 0; !found && names[i]; ++i) {
        apr_size_t l = strlen(names[i]);
        found = avail > l + 1 && raw_ieq(s + 1, avail - 1, names[i])
                && is_tag_end_char((unsigned char)s[1 + l]);
    }
    return found;
}

/* Copy html without comments, non-JSON-LD scripts, styles, svg and templates, and
 * with the HTML5 void elements libxml2 does not know written as empty (<wbr/>).
 * The output is at most n + n/4 + 16 bytes. */
char *pk_sanitize_prestrip(apr_pool_t *p, const char *s, apr_size_t n, apr_size_t *out_len)
{
    char *out = apr_palloc(p, n + n / 4 + 16);
    apr_size_t i = 0, o = 0;

    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        apr_size_t j = lt ? (apr_size_t)(lt - s) : n, e;
        memcpy(out + o, s + i, j - i);
        o += j - i;
        i = j;
        if (i >= n)
            break;
        if (i + 4 <= n && memcmp(s + i, "<!--", 4) == 0) {
            const char *end = NULL;
            apr_size_t k = i + 4;
            while (k + 3 <= n) {
                const char *d = memchr(s + k, '-', n - k);
                if (!d)
                    break;
                k = (apr_size_t)(d - s);
                if (k + 3 <= n && d[1] == '-' && d[2] == '>') {
                    end = d + 3;
                    break;
                }
                ++k;
            }
            i = end ? (apr_size_t)(end - s) : n;
            continue;
        }
        if (i + 1 < n && ((s[i + 1] >= 'a' && s[i + 1] <= 'z')
                          || (s[i + 1] >= 'A' && s[i + 1] <= 'Z'))) {
            const char *name = NULL;
            int keep = 1, raw = 0;
            if (raw_ieq(s + i + 1, n - i - 1, "script")
                && i + 7 < n && is_tag_end_char((unsigned char)s[i + 7]))
                name = "script";
            else if (raw_ieq(s + i + 1, n - i - 1, "style")
                     && i + 6 < n && is_tag_end_char((unsigned char)s[i + 6]))
                name = "style";
            else if (raw_ieq(s + i + 1, n - i - 1, "svg")
                     && i + 4 < n && is_tag_end_char((unsigned char)s[i + 4]))
                name = "svg";
            else if (raw_ieq(s + i + 1, n - i - 1, "template")
                     && i + 9 < n && is_tag_end_char((unsigned char)s[i + 9]))
                name = "template";
            else if (raw_ieq(s + i + 1, n - i - 1, "title")
                     && i + 6 < n && is_tag_end_char((unsigned char)s[i + 6])) {
                name = "title";
                raw = 1;
            }
            else if (raw_ieq(s + i + 1, n - i - 1, "textarea")
                     && i + 9 < n && is_tag_end_char((unsigned char)s[i + 9])) {
                name = "textarea";
                raw = 1;
            }
            e = tag_end(s, i, n);
            if (name) {
                apr_size_t c;
                if (!strcmp(name, "svg")) {
                    /* svg nests: count <svg and </svg */
                    int depth = (e >= 2 && s[e - 2] == '/') ? 0 : 1;
                    c = e;
                    while (depth > 0 && c < n) {
                        const char *l2 = memchr(s + c, '<', n - c);
                        if (!l2) {
                            c = n;
                            break;
                        }
                        c = (apr_size_t)(l2 - s);
                        if (raw_ieq(s + c, n - c, "</svg")) {
                            --depth;
                            c = tag_end(s, c, n);
                        }
                        else if (raw_ieq(s + c, n - c, "<svg") && c + 4 < n
                                 && is_tag_end_char((unsigned char)s[c + 4])) {
                            apr_size_t te = tag_end(s, c, n);
                            if (!(te >= 2 && s[te - 2] == '/'))
                                ++depth;
                            c = te;
                        }
                        else
                            ++c;
                    }
                    i = c;
                    continue;
                }
                keep = raw || (!strcmp(name, "script") && is_jsonld_tag(s, i, e));
                c = find_close(s, e, n, name);
                c = c < n ? tag_end(s, c, n) : n;
                if (keep) {
                    memcpy(out + o, s + i, c - i);
                    o += c - i;
                }
                i = c;
                continue;
            }
            if (e - i >= 2 && s[e - 1] == '>' && s[e - 2] != '/'
                && void_for_html5(s + i, n - i)) {
                memcpy(out + o, s + i, e - i - 1);
                o += e - i - 1;
                memcpy(out + o, "/>", 2);
                o += 2;
            }
            else {
                memcpy(out + o, s + i, e - i);
                o += e - i;
            }
            i = e;
            continue;
        }
        out[o++] = s[i++];
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ------------------------------------------------------------------------- */
/* Serialisation                                                               */

const char *const pk_sanitize_default_video_hosts[] = {
    "youtube.com", "youtube-nocookie.com", "player.vimeo.com", "dailymotion.com",
    "player.twitch.tv", "archive.org", "commons.wikimedia.org", "upload.wikimedia.org",
    "embed.ted.com", "player.bilibili.com", NULL
};

enum { ACT_DROP, ACT_UNWRAP, ACT_KEEP };

/* What to do with an element, and the name to write it as. */
static int element_action(const xmlNode *n, pk_tag_e tag, const char **out_name)
{
    int act = ACT_KEEP;

    *out_name = (const char *)n->name;
    switch (tag) {
    case PK_TAG_A: case PK_TAG_ABBR: case PK_TAG_ARTICLE: case PK_TAG_ASIDE:
    case PK_TAG_AUDIO: case PK_TAG_B: case PK_TAG_BDI: case PK_TAG_BDO:
    case PK_TAG_BLOCKQUOTE: case PK_TAG_BR: case PK_TAG_CAPTION: case PK_TAG_CITE:
    case PK_TAG_CODE: case PK_TAG_COL: case PK_TAG_COLGROUP: case PK_TAG_DD:
    case PK_TAG_DEL: case PK_TAG_DETAILS: case PK_TAG_DFN: case PK_TAG_DIV:
    case PK_TAG_DL: case PK_TAG_DT: case PK_TAG_EM: case PK_TAG_FIGCAPTION:
    case PK_TAG_FIGURE: case PK_TAG_FOOTER: case PK_TAG_H1: case PK_TAG_H2:
    case PK_TAG_H3: case PK_TAG_H4: case PK_TAG_H5: case PK_TAG_H6: case PK_TAG_HEADER:
    case PK_TAG_HR: case PK_TAG_I: case PK_TAG_IMG: case PK_TAG_INS: case PK_TAG_KBD:
    case PK_TAG_LI: case PK_TAG_MARK: case PK_TAG_OL: case PK_TAG_P: case PK_TAG_PICTURE:
    case PK_TAG_PRE: case PK_TAG_Q: case PK_TAG_RP: case PK_TAG_RT: case PK_TAG_RUBY:
    case PK_TAG_S: case PK_TAG_SAMP: case PK_TAG_SECTION: case PK_TAG_SMALL:
    case PK_TAG_SOURCE: case PK_TAG_SUB: case PK_TAG_SUMMARY: case PK_TAG_SUP:
    case PK_TAG_TABLE: case PK_TAG_TBODY: case PK_TAG_TD: case PK_TAG_TFOOT:
    case PK_TAG_TH: case PK_TAG_THEAD: case PK_TAG_TIME: case PK_TAG_TR:
    case PK_TAG_TRACK: case PK_TAG_U: case PK_TAG_UL: case PK_TAG_VAR:
    case PK_TAG_VIDEO: case PK_TAG_WBR: case PK_TAG_IFRAME:
        break;
    case PK_TAG_SPAN:
        if (!xmlHasProp(n, (const xmlChar *)"lang") && !xmlHasProp(n, (const xmlChar *)"dir"))
            act = ACT_UNWRAP;
        break;
    case PK_TAG_ACRONYM: *out_name = "abbr"; break;
    case PK_TAG_TT: *out_name = "code"; break;
    case PK_TAG_STRIKE: *out_name = "s"; break;
    case PK_TAG_DIR: case PK_TAG_MENU: *out_name = "ul"; break;
    case PK_TAG_LISTING: case PK_TAG_XMP: case PK_TAG_PLAINTEXT: *out_name = "pre"; break;
    case PK_TAG_ADDRESS: case PK_TAG_CENTER: case PK_TAG_HGROUP: case PK_TAG_MAIN:
    case PK_TAG_NAV: case PK_TAG_SEARCH:
        *out_name = "div";
        break;
    case PK_TAG_SCRIPT: case PK_TAG_STYLE: case PK_TAG_NOSCRIPT: case PK_TAG_TEMPLATE:
    case PK_TAG_HEAD: case PK_TAG_TITLE: case PK_TAG_META: case PK_TAG_LINK:
    case PK_TAG_BASE: case PK_TAG_OBJECT: case PK_TAG_EMBED: case PK_TAG_APPLET:
    case PK_TAG_FRAME: case PK_TAG_FRAMESET: case PK_TAG_NOFRAMES: case PK_TAG_NOEMBED:
    case PK_TAG_SVG: case PK_TAG_MATH: case PK_TAG_CANVAS: case PK_TAG_MAP:
    case PK_TAG_AREA: case PK_TAG_DIALOG: case PK_TAG_INPUT: case PK_TAG_BUTTON:
    case PK_TAG_SELECT: case PK_TAG_OPTION: case PK_TAG_OPTGROUP: case PK_TAG_TEXTAREA:
    case PK_TAG_DATALIST: case PK_TAG_OUTPUT: case PK_TAG_PROGRESS: case PK_TAG_METER:
    case PK_TAG_PARAM: case PK_TAG_BASEFONT:
        act = ACT_DROP;
        break;
    default:
        act = ACT_UNWRAP;
        break;
    }
    return act;
}

static int is_void(pk_tag_e t)
{
    return t == PK_TAG_BR || t == PK_TAG_HR || t == PK_TAG_IMG || t == PK_TAG_SOURCE
           || t == PK_TAG_TRACK || t == PK_TAG_WBR || t == PK_TAG_COL;
}

/* The value of attribute a (from p). */
static const char *attr_value(apr_pool_t *p, const xmlAttr *a)
{
    const char *v = "";

    if (a->children && !a->children->next && a->children->type == XML_TEXT_NODE)
        v = a->children->content ? (const char *)a->children->content : "";
    else if (a->children) {
        xmlChar *c = xmlNodeListGetString(a->doc, a->children, 1);
        v = c ? apr_pstrdup(p, (const char *)c) : "";
        xmlFree(c);
    }
    return v;
}

typedef struct {
    apr_pool_t *p;
    const pk_sanitize_opts *o;
    const char *const *hosts;
    sbuf_t *b;
} ser_t;

static int scheme_ok(const char *url, int kind)
{
    /* kind 0: link (http, https, mailto); 1: media (http, https); 2: img src */
    return url
           && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0
               || (kind == 0 && strncmp(url, "mailto:", 7) == 0)
               || (kind == 2 && (strncmp(url, "data:image/png", 14) == 0
                                 || strncmp(url, "data:image/jpeg", 15) == 0
                                 || strncmp(url, "data:image/gif", 14) == 0
                                 || strncmp(url, "data:image/webp", 15) == 0)));
}

static const char *resolve(ser_t *s, const char *v, int kind)
{
    const char *u;

    if (kind == 2 && strncmp(v, "data:", 5) == 0)
        u = v;
    else
        u = pk_sanitize_resolve(s->p, s->o ? s->o->base_url : NULL, v);
    return scheme_ok(u, kind) ? u : NULL;
}

/* A srcset with each URL resolved; candidates with bad URLs dropped; NULL if none. */
static const char *resolve_srcset(ser_t *s, const char *v)
{
    sbuf_t out = { s->p, NULL, 0, 0 };
    const char *c = v;

    while (*c) {
        const char *us, *ds, *de;
        char *url;
        const char *abs;
        apr_size_t ul;
        while (*c == ',' || (unsigned char)*c <= 0x20) {
            if (!*c)
                break;
            ++c;
        }
        if (!*c)
            break;
        us = c;
        while (*c && (unsigned char)*c > 0x20)
            ++c;
        ul = (apr_size_t)(c - us);
        ds = de = c;
        if (ul > 0 && us[ul - 1] == ',') {
            while (ul > 0 && us[ul - 1] == ',')
                --ul;
        }
        else {
            int paren = 0;
            while (*c && (paren || *c != ',')) {
                if (*c == '(')
                    ++paren;
                else if (*c == ')' && paren)
                    --paren;
                ++c;
            }
            de = c;
        }
        url = apr_pstrmemdup(s->p, us, ul);
        abs = resolve(s, url, 1);
        if (abs) {
            while (ds < de && (unsigned char)*ds <= 0x20)
                ++ds;
            while (de > ds && (unsigned char)de[-1] <= 0x20)
                --de;
            if (out.len)
                sb_str(&out, ", ");
            sb_str(&out, abs);
            if (de > ds) {
                sb_str(&out, " ");
                sb_add(&out, ds, (apr_size_t)(de - ds));
            }
        }
    }
    return out.len ? sb_done(&out, NULL) : NULL;
}

static int host_allowed(ser_t *s, const char *url)
{
    const char *h = NULL, *e;
    apr_size_t hl, i;
    int ok = 0;

    if (strncmp(url, "https://", 8) == 0)
        h = url + 8;
    else
        h = url + strlen(url); /* not https (a reader served over https blocks it): none */
    e = h + strcspn(h, "/?#");
    {
        const char *at = memchr(h, '@', (apr_size_t)(e - h));
        if (at)
            h = at + 1;
    }
    {
        const char *colon = memchr(h, ':', (apr_size_t)(e - h));
        if (colon)
            e = colon;
    }
    hl = (apr_size_t)(e - h);
    for (i = 0; !ok && s->hosts[i]; ++i) {
        apr_size_t n = strlen(s->hosts[i]);
        if (hl == n && strncasecmp(h, s->hosts[i], n) == 0)
            ok = 1;
        else if (hl > n && h[hl - n - 1] == '.' && strncasecmp(h + hl - n, s->hosts[i], n) == 0)
            ok = 1;
    }
    return ok;
}

static void put_attr(ser_t *s, const char *name, const char *value)
{
    sb_str(s->b, " ");
    sb_str(s->b, name);
    if (value) {
        sb_str(s->b, "=\"");
        sb_esc(s->b, value, 1);
        sb_str(s->b, "\"");
    }
}

static int attr_is(const xmlAttr *a, const char *name)
{
    return strcmp((const char *)a->name, name) == 0;
}

/* Only digits (a size or a count), at most 6 of them. */
static int is_number(const char *v)
{
    apr_size_t n = 0;

    while (v[n] >= '0' && v[n] <= '9')
        ++n;
    return n > 0 && n <= 6 && v[n] == '\0';
}

/* Keep "language-x" / "lang-x" class tokens (syntax highlighting hints). */
static const char *code_class(apr_pool_t *p, const char *v)
{
    sbuf_t out = { p, NULL, 0, 0 };
    const char *c = v;

    while (*c) {
        const char *st;
        apr_size_t n, i;
        int ok;
        while (*c == ' ' || *c == '\t' || *c == '\n')
            ++c;
        st = c;
        while (*c && *c != ' ' && *c != '\t' && *c != '\n')
            ++c;
        n = (apr_size_t)(c - st);
        ok = (n > 9 && strncmp(st, "language-", 9) == 0) || (n > 5 && strncmp(st, "lang-", 5) == 0);
        for (i = 0; ok && i < n; ++i)
            ok = is_alpha((unsigned char)st[i]) || (st[i] >= '0' && st[i] <= '9')
                 || st[i] == '-' || st[i] == '_' || st[i] == '+' || st[i] == '#';
        if (ok) {
            if (out.len)
                sb_str(&out, " ");
            sb_add(&out, st, n);
        }
    }
    return out.len ? sb_done(&out, NULL) : NULL;
}

/* Write the open tag of a kept element; returns 0 if the element must be dropped
 * after all (an img without a usable source, an iframe not on a video host). */
static int open_tag(ser_t *s, const xmlNode *n, pk_tag_e tag, const char *name)
{
    const xmlAttr *a;
    apr_size_t mark = s->b->len;
    int ok = 1, has_src = 0;

    sb_str(s->b, "<");
    sb_str(s->b, name);
    for (a = n->properties; a && ok; a = a->next) {
        const char *v = attr_value(s->p, a), *u;
        if (attr_is(a, "lang") || attr_is(a, "title")) {
            if (*v)
                put_attr(s, (const char *)a->name, v);
        }
        else if (attr_is(a, "dir")) {
            if (!strcasecmp(v, "ltr") || !strcasecmp(v, "rtl") || !strcasecmp(v, "auto"))
                put_attr(s, "dir", v);
        }
        else if (tag == PK_TAG_A && attr_is(a, "href")) {
            if ((u = resolve(s, v, 0)) != NULL)
                put_attr(s, "href", u);
        }
        else if (attr_is(a, "src") && (tag == PK_TAG_IMG || tag == PK_TAG_SOURCE
                                       || tag == PK_TAG_VIDEO || tag == PK_TAG_AUDIO
                                       || tag == PK_TAG_TRACK || tag == PK_TAG_IFRAME)) {
            u = resolve(s, v, tag == PK_TAG_IMG ? 2 : 1);
            if (u && tag == PK_TAG_IFRAME && !host_allowed(s, u))
                u = NULL;
            if (u) {
                put_attr(s, "src", u);
                has_src = 1;
            }
        }
        else if (attr_is(a, "srcset") && (tag == PK_TAG_IMG || tag == PK_TAG_SOURCE)) {
            if ((u = resolve_srcset(s, v)) != NULL) {
                put_attr(s, "srcset", u);
                has_src = 1;
            }
        }
        else if (attr_is(a, "sizes") && (tag == PK_TAG_IMG || tag == PK_TAG_SOURCE)) {
            put_attr(s, "sizes", v);
        }
        else if (attr_is(a, "alt") && tag == PK_TAG_IMG) {
            put_attr(s, "alt", v);
        }
        else if ((attr_is(a, "width") || attr_is(a, "height"))
                 && (tag == PK_TAG_IMG || tag == PK_TAG_VIDEO || tag == PK_TAG_IFRAME)) {
            if (is_number(v))
                put_attr(s, (const char *)a->name, v);
        }
        else if ((attr_is(a, "type") || attr_is(a, "media")) && tag == PK_TAG_SOURCE) {
            put_attr(s, (const char *)a->name, v);
        }
        else if (attr_is(a, "poster") && tag == PK_TAG_VIDEO) {
            if ((u = resolve(s, v, 1)) != NULL)
                put_attr(s, "poster", u);
        }
        else if (attr_is(a, "controls") && (tag == PK_TAG_VIDEO || tag == PK_TAG_AUDIO)) {
            put_attr(s, "controls", NULL);
        }
        else if ((attr_is(a, "kind") || attr_is(a, "srclang") || attr_is(a, "label"))
                 && tag == PK_TAG_TRACK) {
            put_attr(s, (const char *)a->name, v);
        }
        else if (attr_is(a, "allowfullscreen") && tag == PK_TAG_IFRAME) {
            put_attr(s, "allowfullscreen", NULL);
        }
        else if ((attr_is(a, "colspan") || attr_is(a, "rowspan"))
                 && (tag == PK_TAG_TD || tag == PK_TAG_TH)) {
            if (is_number(v))
                put_attr(s, (const char *)a->name, v);
        }
        else if ((attr_is(a, "headers") && (tag == PK_TAG_TD || tag == PK_TAG_TH))
                 || (attr_is(a, "scope") && tag == PK_TAG_TH)) {
            put_attr(s, (const char *)a->name, v);
        }
        else if (tag == PK_TAG_OL && (attr_is(a, "start") || attr_is(a, "type"))) {
            put_attr(s, (const char *)a->name, v);
        }
        else if (tag == PK_TAG_OL && attr_is(a, "reversed")) {
            put_attr(s, "reversed", NULL);
        }
        else if (tag == PK_TAG_LI && attr_is(a, "value")) {
            put_attr(s, "value", v);
        }
        else if (attr_is(a, "datetime")
                 && (tag == PK_TAG_TIME || tag == PK_TAG_DEL || tag == PK_TAG_INS)) {
            put_attr(s, "datetime", v);
        }
        else if (attr_is(a, "cite") && (tag == PK_TAG_BLOCKQUOTE || tag == PK_TAG_Q
                                        || tag == PK_TAG_DEL || tag == PK_TAG_INS)) {
            if ((u = resolve(s, v, 1)) != NULL)
                put_attr(s, "cite", u);
        }
        else if (attr_is(a, "span") && (tag == PK_TAG_COL || tag == PK_TAG_COLGROUP)) {
            if (is_number(v))
                put_attr(s, "span", v);
        }
        else if (attr_is(a, "open") && tag == PK_TAG_DETAILS) {
            put_attr(s, "open", NULL);
        }
        else if (attr_is(a, "class") && (tag == PK_TAG_PRE || tag == PK_TAG_CODE)) {
            if ((u = code_class(s->p, v)) != NULL)
                put_attr(s, "class", u);
        }
    }
    if (tag == PK_TAG_IFRAME) {
        if (has_src)
            sb_str(s->b, " sandbox=\"allow-scripts allow-same-origin allow-presentation\""
                         " loading=\"lazy\"");
        else
            ok = 0;
    }
    if (tag == PK_TAG_IMG && !has_src)
        ok = 0;
    if (ok)
        sb_str(s->b, ">");
    else
        s->b->len = mark;
    return ok;
}

/* A stack of the close tags due (NULL for an unwrapped element). */
typedef struct {
    const char **v;
    apr_size_t n, cap;
} closes_t;

static void st_push(apr_pool_t *p, closes_t *s, const char *name)
{
    if (s->n == s->cap) {
        apr_size_t cap = s->cap ? s->cap * 2 : 64;
        const char **v = apr_palloc(p, cap * sizeof(*v));
        if (s->n)
            memcpy(v, s->v, s->n * sizeof(*v));
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = name;
}

static const char *st_pop(closes_t *s)
{
    return s->n ? s->v[--s->n] : NULL;
}

static void close_tag(sbuf_t *b, const char *name)
{
    if (name) {
        sb_str(b, "</");
        sb_str(b, name);
        sb_str(b, ">");
    }
}

const char *pk_sanitize_node(apr_pool_t *p, const xmlNode *root, int with_self,
                             const pk_sanitize_opts *opts, apr_size_t *len)
{
    sbuf_t b = { p, NULL, 0, 0 };
    closes_t st = { NULL, 0, 0 };
    const xmlNode *n, *top;
    const char *closing;
    int pre = 0; /* inside <pre>: whitespace kept as it is */
    ser_t s;

    s.p = p;
    s.o = opts;
    s.hosts = (opts && opts->video_hosts) ? opts->video_hosts
                                          : pk_sanitize_default_video_hosts;
    s.b = &b;
    top = with_self ? root : NULL;
    n = root ? (with_self ? root : root->children) : NULL;
    while (n) {
        const char *close = NULL;
        int entered = 0;
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            const char *t = n->content ? (const char *)n->content : "";
            if (pre == 0 && t[strspn(t, " \n\t\r\f")] == '\0' && b.len > 0
                && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
                t = ""; /* only whitespace, after whitespace */
            sb_esc_ws(&b, t, 0, pre == 0);
        }
        else if (n->type == XML_ELEMENT_NODE) {
            pk_tag_e tag = pk_sanitize_tag((const char *)n->name);
            const char *name;
            int act = element_action(n, tag, &name);
            if (act == ACT_KEEP && open_tag(&s, n, tag, name) && !is_void(tag)) {
                entered = 1;
                close = name;
                pre += !strcmp(name, "pre");
            }
            else if (act == ACT_UNWRAP)
                entered = 1;
        }
        if (entered && n->children) {
            st_push(p, &st, close);
            n = n->children;
            continue;
        }
        if (entered) {
            close_tag(&b, close);
            pre -= close && !strcmp(close, "pre");
        }
        for (;;) { /* on to the next node, closing the elements left */
            if (n == top) {
                n = NULL;
                break;
            }
            if (n->next) {
                n = n->next;
                break;
            }
            n = n->parent;
            if (!n || (!with_self && n == root)) {
                n = NULL;
                break;
            }
            closing = st_pop(&st);
            close_tag(&b, closing);
            pre -= closing && !strcmp(closing, "pre");
        }
    }
    return sb_done(&b, len);
}

apr_status_t pk_sanitize_html(apr_pool_t *p, const char *html, apr_size_t len,
                              const pk_sanitize_opts *opts, const char **out,
                              apr_size_t *out_len)
{
    apr_status_t rv = APR_SUCCESS;
    htmlDocPtr doc = NULL;
    xmlNode *n, *body = NULL;
    pk_sanitize_opts o;
    int depth = 0;

    if (!html || !out)
        rv = APR_EINVAL;
    else if (len > 0x7fffffff)
        rv = APR_EINVAL;
    if (rv == APR_SUCCESS) {
        apr_size_t plen = 0;
        html = pk_sanitize_prestrip(p, html, len, &plen);
        len = plen;
        doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                             HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING
                             | HTML_PARSE_NONET | HTML_PARSE_COMPACT);
        if (!doc)
            rv = len == 0 ? APR_SUCCESS : APR_ENOMEM;
    }
    if (rv == APR_SUCCESS) {
        if (opts)
            o = *opts;
        else
            memset(&o, 0, sizeof(o));
        /* find <body> and <base href> in a shallow walk of html/head */
        for (n = doc ? xmlDocGetRootElement(doc) : NULL; n && depth < 3; ) {
            xmlNode *c, *next = NULL;
            for (c = n->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE)
                    continue;
                if (!strcmp((const char *)c->name, "body"))
                    body = c;
                else if (!strcmp((const char *)c->name, "head"))
                    next = c;
                else if (!strcmp((const char *)c->name, "base")) {
                    xmlChar *h = xmlGetProp(c, (const xmlChar *)"href");
                    if (h && o.base_url) {
                        const char *abs = pk_sanitize_resolve(p, o.base_url, (const char *)h);
                        if (abs)
                            o.base_url = abs;
                    }
                    xmlFree(h);
                }
            }
            n = next;
            ++depth;
        }
        if (!body && doc)
            body = xmlDocGetRootElement(doc);
        *out = pk_sanitize_node(p, body, 0, &o, out_len);
        if (doc)
            xmlFreeDoc(doc);
    }
    return rv;
}
