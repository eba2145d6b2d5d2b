/* pk_extract.c - the article in a web page (see pk_extract.h).
 *
 * Pipeline:
 *   1. pk_sanitize_prestrip(): one pass over the bytes drops comments, <script> (but
 *      JSON-LD), <style>, <svg> and <template> before libxml2 sees them (they are 60 %
 *      of a typical page and libxml2 tokenises them slowly);
 *   2. parse with libxml2's HTML parser, UTF-8 forced;
 *   3. metadata: JSON-LD (schema.org Article types), <meta> (OpenGraph, Dublin Core,
 *      Twitter, Parse.ly...), <title> and headings;
 *   4. content: the scoring of Readability.js (Mozilla, Apache-2.0; this is a
 *      re-implementation over libxml2 of its published algorithm), extended with more
 *      general signals, see grab_article() and refine();
 *   5. output: plain text, sanitised HTML (pk_sanitize_node), word count.
 *
 * Every tree walk is iterative. libxml2's tokeniser builds the tree through our own
 * SAX callbacks: nodes are xmlNode/xmlAttr structs allocated from the caller's pool
 * (no malloc per node, nothing to free one by one), so that libxml2's tree functions
 * that only read or relink nodes work on them, but none that allocates or frees
 * nodes may be called (see new_elem, set_attr, unset_attr, set_tag). Node data
 * (score, tag) hangs off xmlNode._private.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_date.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include "pk_charset.h"
#include "pk_extract.h"
#include "pk_sanitize.h"
#include "pk_utf8.h"

/* ========================================================================= */
/* Buffers                                                                    */

typedef struct {
    apr_pool_t *p;
    char *data;
    apr_size_t len, cap;
} buf_t;

static void buf_grow(buf_t *b, apr_size_t need)
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

static void buf_add(buf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n + 1 > b->cap)
        buf_grow(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static const char *buf_done(buf_t *b, apr_size_t *len)
{
    if (!b->data)
        buf_grow(b, 0);
    b->data[b->len] = '\0';
    if (len)
        *len = b->len;
    return b->data;
}

typedef struct nodes {
    xmlNode **v;
    apr_size_t n, cap;
} nodes_t;

/* ========================================================================= */
/* Characters                                                                 */

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int ieq_n(const char *s, const char *lit, apr_size_t n)
{
    apr_size_t i;
    int same = 1;

    for (i = 0; same && i < n; ++i)
        same = s[i] && ascii_lower((unsigned char)s[i]) == lit[i];
    return same;
}

static int is_word(int c) /* JS \w */
{
    return is_alnum(c) || c == '_';
}

/* Length in bytes of the JS-\s whitespace character at s (0 if none): ASCII space,
 * tab, LF, VT, FF, CR, and U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
 * U+205F, U+3000, U+FEFF. */
static int ws_len(const unsigned char *s)
{
    unsigned char c = s[0];
    int w = 0;

    if (c == ' ' || (c >= 0x09 && c <= 0x0D))
        w = 1;
    else if (c < 0xC2)
        w = 0;
    else if (c == 0xC2)
        w = s[1] == 0xA0 ? 2 : 0;
    else if (c == 0xE1)
        w = (s[1] == 0x9A && s[2] == 0x80) ? 3 : 0;
    else if (c == 0xE2)
        w = ((s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9
                               || s[2] == 0xAF))
             || (s[1] == 0x81 && s[2] == 0x9F)) ? 3 : 0;
    else if (c == 0xE3)
        w = (s[1] == 0x80 && s[2] == 0x80) ? 3 : 0;
    else if (c == 0xEF)
        w = (s[1] == 0xBB && s[2] == 0xBF) ? 3 : 0;
    return w;
}

/* Copy of s with whitespace runs collapsed to one space and trimmed (from p). */
static char *squash(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s);
    char *out = apr_palloc(p, n + 1), *o = out;
    const unsigned char *u = (const unsigned char *)s;
    int pending = 0, w;

    while (*u) {
        if ((w = ws_len(u)) > 0) {
            pending = o > out;
            u += w;
            continue;
        }
        if (pending) {
            *o++ = ' ';
            pending = 0;
        }
        *o++ = (char)*u++;
    }
    *o = '\0';
    return out;
}

/* ========================================================================= */
/* Context and node data                                                      */

#define FLAG_STRIP_UNLIKELYS     0x1
#define FLAG_WEIGHT_CLASSES      0x2
#define FLAG_CLEAN_CONDITIONALLY 0x4

/* class/id hint bits */
#define H_UNLIKELY 0x01
#define H_MAYBE    0x02
#define H_POSITIVE 0x04
#define H_NEGATIVE 0x08
#define H_BYLINE   0x10
#define H_SHARE    0x20
#define H_CAPTION  0x40  /* ours: caption, credit */
#define H_BOILER   0x80  /* ours: related, share, newsletter, promo, ... */
#define H_DATE     0x100 /* ours: date, timestamp, published, ... */

/* node flags */
#define ND_SCORED     0x01 /* has a content score (Readability's node.readability) */
#define ND_DATATABLE  0x02
#define ND_HINTS      0x04 /* hint bits computed */
#define ND_LINK_DONE  0x08 /* an <a> whose target was classified */
#define ND_LINK_INT   0x10 /* ... as this site (or no target) */

typedef struct {
    uint16_t tag;
    uint16_t flags;
    uint16_t h_class, h_id, h_all;
    double score;
} nd_t;

typedef struct {
    apr_pool_t *p;
    htmlDocPtr doc;
    int flags;
    /* node data and text measures come in chunks */
    nd_t *chunk;
    apr_size_t chunk_left;
    struct tcache *tc_chunk;
    apr_size_t tc_left;
    /* elements of interest, collected by the first walk */
    struct nodes *by[PK_TAG__COUNT];
    /* the document being worked on, and its nodes out of the tree */
    struct doc_owner *owner;
    /* scratch stack for the measuring walk */
    void *frames;
    apr_size_t frames_cap;
    const char *const *video_hosts;
    /* hint bits of class names seen (the strings belong to the document) */
    apr_hash_t *hint_cache;
    /* the page's site ("example.co.uk"), to tell internal links */
    const char *site;
    /* from the metadata, for the content pass */
    const char *article_title;
    int have_meta_byline;
    /* found by the content pass */
    const char *dom_byline;
    const char *article_dir;
    const char *article_lang;
} ctx_t;

/* What a parse leaves to free: the (malloc'd) document shell, and a reference to the
 * parser's dictionary, which holds the element and attribute names. */
typedef struct doc_owner {
    htmlDocPtr doc;
    xmlDictPtr dict;
} doc_owner_t;

static apr_status_t doc_cleanup(void *data)
{
    doc_owner_t *o = data;

    if (o->doc) {
        /* the nodes belong to the pool: only the shell is libxml2's */
        o->doc->children = o->doc->last = NULL;
        o->doc->intSubset = o->doc->extSubset = NULL;
        xmlFreeDoc(o->doc);
        o->doc = NULL;
    }
    if (o->dict) {
        xmlDictFree(o->dict);
        o->dict = NULL;
    }
    return APR_SUCCESS;
}

static nd_t *nd_alloc(ctx_t *c)
{
    if (c->chunk_left == 0) {
        c->chunk = apr_pcalloc(c->p, 512 * sizeof(nd_t));
        c->chunk_left = 512;
    }
    --c->chunk_left;
    return c->chunk++;
}

static pk_tag_e tag_of(const xmlNode *n)
{
    pk_tag_e t = PK_TAG_UNKNOWN;

    if (n && n->type == XML_ELEMENT_NODE)
        t = n->_private ? (pk_tag_e)((nd_t *)n->_private)->tag
                        : pk_sanitize_tag((const char *)n->name);
    return t;
}

static nd_t *nd_of(ctx_t *c, xmlNode *n)
{
    if (!n->_private) {
        nd_t *d = nd_alloc(c);
        d->tag = (uint16_t)pk_sanitize_tag((const char *)n->name);
        n->_private = d;
    }
    return n->_private;
}

static void nodes_add(apr_pool_t *p, struct nodes *l, xmlNode *n);

static int attached_under(const xmlNode *n, const xmlNode *root)
{
    while (n && n != root)
        n = n->parent;
    return n != NULL;
}


static xmlAttr *new_attr(apr_pool_t *p, xmlNode *owner, const char *name, const char *value,
                         apr_size_t len);

/* ------------------------------------------------------------------------- */
/* Tree building: libxml2's HTML tokeniser, our SAX callbacks, nodes in the pool. */

/* Elements nested deeper than this are not made: their text and children go to the
 * element at this depth. libxml2 stops the whole parse past depth 256 (nodePush), which
 * lost the rest of the page; flattening keeps every word, in order. */
#define MAX_DEPTH 240

typedef struct {
    ctx_t *c;
    xmlNode *text;        /* the text node being extended by consecutive characters */
    apr_size_t text_len, text_cap;
    apr_size_t flattened; /* open elements not made (beyond MAX_DEPTH) */
} builder_t;

static void note_element(ctx_t *c, xmlNode *n, pk_tag_e t)
{
    switch (t) {
    case PK_TAG_IMG: case PK_TAG_NOSCRIPT: case PK_TAG_SCRIPT: case PK_TAG_BR:
    case PK_TAG_FONT: case PK_TAG_META: case PK_TAG_TITLE: case PK_TAG_BASE:
    case PK_TAG_H1: case PK_TAG_H2:
        if (!c->by[t])
            c->by[t] = apr_pcalloc(c->p, sizeof(struct nodes));
        nodes_add(c->p, c->by[t], n);
        break;
    default:
        break;
    }
}

static void sax_start(void *ud, const xmlChar *name, const xmlChar **atts)
{
    htmlParserCtxtPtr ctxt = ud;
    builder_t *b = ctxt->_private;
    ctx_t *c = b->c;
    xmlNode *n, *parent = ctxt->node ? ctxt->node : (xmlNode *)ctxt->myDoc;
    xmlAttr *last = NULL;
    nd_t *d;
    int i;

    if (b->flattened || ctxt->nodeNr >= MAX_DEPTH) {
        ++b->flattened;
        return;
    }
    n = apr_pcalloc(c->p, sizeof(*n));
    n->type = XML_ELEMENT_NODE;
    n->name = name; /* a dictionary string, or a literal for implied elements */
    n->doc = ctxt->myDoc;
    for (i = 0; atts && atts[i]; i += 2) {
        const char *v = atts[i + 1] ? (const char *)atts[i + 1] : "";
        xmlAttr *a = new_attr(c->p, n, (const char *)atts[i], v, strlen(v));
        if (last) {
            last->next = a;
            a->prev = last;
        }
        else
            n->properties = a;
        last = a;
    }
    d = nd_alloc(c);
    d->tag = (uint16_t)pk_sanitize_tag((const char *)name);
    n->_private = d;
    note_element(c, n, (pk_tag_e)d->tag);
    if (parent) { /* (there is always one: the document, at least) */
        n->parent = parent;
        n->prev = parent->last;
        if (parent->last)
            parent->last->next = n;
        else
            parent->children = n;
        parent->last = n;
    }
    b->text = NULL;
    nodePush(ctxt, n); /* (never past libxml2's depth limit of 256: MAX_DEPTH) */
}

static void sax_end(void *ud, const xmlChar *name)
{
    htmlParserCtxtPtr ctxt = ud;
    builder_t *b = ctxt->_private;

    (void)name;
    if (b->flattened) {
        --b->flattened;     /* the end of an element that was not made */
        return;
    }
    b->text = NULL;
    nodePop(ctxt);
}

static void sax_text(void *ud, const xmlChar *ch, int len)
{
    htmlParserCtxtPtr ctxt = ud;
    builder_t *b = ctxt->_private;
    xmlNode *parent = ctxt->node, *t;

    if (!parent || len <= 0) {
        /* text outside any element: nothing to attach it to */
    }
    else if (b->text && parent->last == b->text) {
        /* characters come in chunks: extend the last text node */
        if (b->text_len + (apr_size_t)len + 1 > b->text_cap) {
            apr_size_t cap = b->text_cap * 2;
            char *nc;
            while (cap < b->text_len + (apr_size_t)len + 1)
                cap *= 2;
            nc = apr_palloc(b->c->p, cap);
            memcpy(nc, b->text->content, b->text_len);
            b->text->content = (xmlChar *)nc;
            b->text_cap = cap;
        }
        memcpy(b->text->content + b->text_len, ch, (apr_size_t)len);
        b->text_len += (apr_size_t)len;
        b->text->content[b->text_len] = '\0';
    }
    else {
        t = apr_pcalloc(b->c->p, sizeof(*t));
        t->type = XML_TEXT_NODE;
        t->name = xmlStringText;
        t->doc = ctxt->myDoc;
        b->text_cap = (apr_size_t)len + 1 < 64 ? 64 : (apr_size_t)len * 2 + 1;
        t->content = apr_palloc(b->c->p, b->text_cap);
        memcpy(t->content, ch, (apr_size_t)len);
        t->content[len] = '\0';
        b->text_len = (apr_size_t)len;
        t->parent = parent;
        t->prev = parent->last;
        if (parent->last)
            parent->last->next = t;
        else
            parent->children = t;
        parent->last = t;
        b->text = t;
    }
}

/* Parse UTF-8 HTML into a tree whose nodes live in c->p; registers the cleanup of
 * what libxml2 keeps. Returns the document or NULL. */
static htmlDocPtr parse_html(ctx_t *c, const char *buf, apr_size_t len, doc_owner_t *owner)
{
    htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
    htmlDocPtr doc = NULL;
    builder_t b;

    if (ctxt) {
        if (len > 0x7ffffff0)
            len = 0x7ffffff0; /* libxml2 takes an int */
        memset(c->by, 0, sizeof(c->by));
        memset(&b, 0, sizeof(b));
        b.c = c;
        ctxt->_private = &b;
        ctxt->sax->startElement = sax_start;
        ctxt->sax->endElement = sax_end;
        ctxt->sax->characters = sax_text;
        ctxt->sax->cdataBlock = sax_text;
        ctxt->sax->comment = NULL;
        ctxt->sax->processingInstruction = NULL;
        ctxt->sax->internalSubset = NULL;
        ctxt->sax->externalSubset = NULL;
        doc = htmlCtxtReadMemory(ctxt, buf, (int)len, NULL, "UTF-8",
                                 HTML_PARSE_RECOVER | HTML_PARSE_NOERROR
                                 | HTML_PARSE_NOWARNING | HTML_PARSE_NONET
                                 | HTML_PARSE_NODEFDTD | HTML_PARSE_IGNORE_ENC);
        if (doc) {
            owner->doc = doc;
            owner->dict = ctxt->dict;
            xmlDictReference(ctxt->dict);
            apr_pool_cleanup_register(c->p, owner, doc_cleanup, apr_pool_cleanup_null);
        }
        xmlFreeParserCtxt(ctxt);
    }
    return doc;
}

/* The elements with tag t collected by nd_assign_all (possibly out of the tree now). */
static struct nodes collected(ctx_t *c, pk_tag_e t)
{
    struct nodes none = { NULL, 0, 0 };

    return c->by[t] ? *c->by[t] : none;
}

/* Take n out of the tree (its memory stays with the pool). */
static void drop(ctx_t *c, xmlNode *n)
{
    (void)c;
    if (n && n->parent)
        xmlUnlinkNode(n);
}

/* Linking without libxml2's merging of adjacent text nodes (which frees nodes). */
static void link_append(xmlNode *parent, xmlNode *n)
{
    xmlUnlinkNode(n);
    n->parent = parent;
    n->prev = parent->last;
    n->next = NULL;
    if (parent->last)
        parent->last->next = n;
    else
        parent->children = n;
    parent->last = n;
}

static void link_before(xmlNode *ref, xmlNode *n)
{
    xmlNode *parent = ref->parent;

    xmlUnlinkNode(n);
    n->parent = parent;
    n->next = ref;
    n->prev = ref->prev;
    if (ref->prev)
        ref->prev->next = n;
    else if (parent)
        parent->children = n;
    ref->prev = n;
}

/* Put n where old is; old leaves the tree. */
static void replace_node(ctx_t *c, xmlNode *old, xmlNode *n, int keep_old)
{
    (void)c;
    (void)keep_old;
    if (n != old && old->parent) {
        link_before(old, n);
        xmlUnlinkNode(old);
    }
}

/* A new element (from the pool), not in the tree yet. name must outlive the pool
 * (a string literal or a dictionary string). */
static xmlNode *new_elem(ctx_t *c, const char *name)
{
    xmlNode *n = apr_pcalloc(c->p, sizeof(*n));

    n->type = XML_ELEMENT_NODE;
    n->name = (const xmlChar *)name;
    n->doc = c->doc;
    nd_of(c, n);
    return n;
}

/* Rename an element in place (Readability's _setNodeTag); name as for new_elem. */
static void set_tag(ctx_t *c, xmlNode *n, const char *name)
{
    n->name = (const xmlChar *)name;
    nd_of(c, n)->tag = (uint16_t)pk_sanitize_tag(name);
}

/* The value of an attribute without copying when possible; NULL if absent. */
static const char *attr(const xmlNode *n, const char *name)
{
    const xmlAttr *a = (n && n->type == XML_ELEMENT_NODE) ? n->properties : NULL;
    const char *v = NULL;

    for (; a && !v; a = a->next)
        if (a->name[0] == name[0] && strcmp((const char *)a->name, name) == 0)
            v = (a->children && !a->children->next && a->children->content)
                ? (const char *)a->children->content : "";
    return v;
}

static const char *attr_or_empty(const xmlNode *n, const char *name)
{
    const char *v = attr(n, name);
    return v ? v : "";
}

/* An attribute with a text value, from the pool (value copied, name kept). */
static xmlAttr *new_attr(apr_pool_t *p, xmlNode *owner, const char *name, const char *value,
                         apr_size_t len)
{
    xmlAttr *a = apr_pcalloc(p, sizeof(*a));
    xmlNode *t = apr_pcalloc(p, sizeof(*t));

    a->type = XML_ATTRIBUTE_NODE;
    a->name = (const xmlChar *)name;
    a->parent = owner;
    a->doc = owner->doc;
    t->type = XML_TEXT_NODE;
    t->name = xmlStringText;
    t->content = (xmlChar *)apr_pstrmemdup(p, value, len);
    t->parent = (xmlNode *)a;
    t->doc = owner->doc;
    a->children = a->last = t;
    return a;
}

static void set_attr_p(apr_pool_t *p, xmlNode *n, const char *name, const char *value)
{
    xmlAttr *a, *last = NULL, *na;

    for (a = n->properties; a && strcmp((const char *)a->name, name) != 0; a = a->next)
        last = a;
    if (a)
        a->children->content = (xmlChar *)apr_pstrdup(p, value);
    else {
        na = new_attr(p, n, apr_pstrdup(p, name), value, strlen(value));
        if (last) {
            last->next = na;
            na->prev = last;
        }
        else
            n->properties = na;
    }
}

#define set_attr(n, name, value) set_attr_p(c->p, (n), (name), (value))

static void unset_attr(xmlNode *n, const char *name)
{
    xmlAttr *a = n->properties;

    while (a && strcmp((const char *)a->name, name) != 0)
        a = a->next;
    if (a) {
        if (a->prev)
            a->prev->next = a->next;
        else
            n->properties = a->next;
        if (a->next)
            a->next->prev = a->prev;
        a->parent = NULL;
    }
}

static xmlNode *first_el(const xmlNode *n)
{
    xmlNode *c = n ? n->children : NULL;

    while (c && c->type != XML_ELEMENT_NODE)
        c = c->next;
    return c;
}

static xmlNode *next_el(const xmlNode *n)
{
    xmlNode *c = n->next;

    while (c && c->type != XML_ELEMENT_NODE)
        c = c->next;
    return c;
}

static xmlNode *prev_el(const xmlNode *n)
{
    xmlNode *c = n->prev;

    while (c && c->type != XML_ELEMENT_NODE)
        c = c->prev;
    return c;
}

static apr_size_t el_count(const xmlNode *n)
{
    apr_size_t k = 0;
    xmlNode *c;

    for (c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            ++k;
    return k;
}

static int is_elem(const xmlNode *n)
{
    return n && n->type == XML_ELEMENT_NODE;
}

static int is_text(const xmlNode *n)
{
    return n && (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE);
}

/* Depth-first element traversal (Readability's _getNextNode). */
static xmlNode *next_node(xmlNode *n, int skip_kids)
{
    xmlNode *r = skip_kids ? NULL : first_el(n);

    if (!r)
        r = next_el(n);
    if (!r) {
        do {
            n = n->parent;
        } while (n && is_elem(n) && !next_el(n));
        r = (n && is_elem(n)) ? next_el(n) : NULL;
    }
    return r;
}

/* Next node in document order within root (any node type); NULL at the end. */
static xmlNode *walk_next(const xmlNode *root, xmlNode *n, int skip_kids)
{
    xmlNode *r = NULL;

    if (!skip_kids && n->children && n->type == XML_ELEMENT_NODE)
        r = n->children;
    else {
        while (n && n != root && !n->next)
            n = n->parent;
        r = (!n || n == root) ? NULL : n->next;
    }
    return r;
}

static int has_ancestor_tag(const xmlNode *n, pk_tag_e tag, int max_depth,
                            int need_datatable)
{
    int depth = 0, found = 0;

    if (max_depth == 0)
        max_depth = 3;
    while (!found && n->parent && is_elem(n->parent)) {
        if (max_depth > 0 && depth > max_depth)
            break;
        found = tag_of(n->parent) == tag
                && (!need_datatable
                    || (n->parent->_private
                        && (((nd_t *)n->parent->_private)->flags & ND_DATATABLE)));
        n = n->parent;
        ++depth;
    }
    return found;
}

/* All descendant elements of root with one of the tags (document order). */

static void nodes_add(apr_pool_t *p, struct nodes *l, xmlNode *n)
{
    if (l->n == l->cap) {
        apr_size_t cap = l->cap ? l->cap * 2 : 32;
        xmlNode **v = apr_palloc(p, cap * sizeof(*v));
        if (l->n)
            memcpy(v, l->v, l->n * sizeof(*v));
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

static nodes_t by_tags(apr_pool_t *p, const xmlNode *root, const pk_tag_e *tags, int ntags)
{
    nodes_t l = { NULL, 0, 0 };
    xmlNode *n = root ? root->children : NULL;
    int i;

    while (n) {
        if (n->type == XML_ELEMENT_NODE) {
            pk_tag_e t = tag_of(n);
            for (i = 0; i < ntags; ++i)
                if (tags[i] == t) {
                    nodes_add(p, &l, n);
                    break;
                }
        }
        n = walk_next(root, n, 0);
    }
    return l;
}

static nodes_t by_tag(apr_pool_t *p, const xmlNode *root, pk_tag_e tag)
{
    return by_tags(p, root, &tag, 1);
}

static apr_size_t count_tag(const xmlNode *root, pk_tag_e tag)
{
    apr_size_t k = 0;
    xmlNode *n = root ? root->children : NULL;

    while (n) {
        if (n->type == XML_ELEMENT_NODE && tag_of(n) == tag)
            ++k;
        n = walk_next(root, n, 0);
    }
    return k;
}

/* ========================================================================= */
/* Text measures                                                              */

/* The text of a node as Readability measures it: whitespace runs collapsed to one
 * character, then trimmed. tm_t measures a concatenation exactly. */
typedef struct {
    apr_size_t len;           /* characters after collapsing, before trimming */
    unsigned char lead, trail; /* starts / ends with whitespace */
    unsigned char allws;       /* only whitespace (or empty) */
} tm_t;

static void tm_cat(tm_t *a, const tm_t *b)
{
    if (b->len == 0) {
        /* nothing to add */
    }
    else if (a->len == 0)
        *a = *b;
    else {
        a->len += b->len - ((a->trail && b->lead) ? 1 : 0);
        a->trail = b->trail;
        a->allws = a->allws && b->allws;
    }
}

static apr_size_t tm_trimmed(const tm_t *t)
{
    return (t->allws || t->len == 0) ? 0 : t->len - t->lead - t->trail;
}

/* Measure a string; *commas / *commas_all (may be NULL) add its ASCII commas / all
 * comma variants Readability counts. */
static void tm_text(tm_t *t, const char *s, apr_size_t *commas, apr_size_t *commas_all)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t len = 0, ca = 0, cv = 0;
    int prev_ws = 0, w, first = 1;

    t->lead = t->trail = 0;
    t->allws = 1;
    while (*u) {
        if ((w = ws_len(u)) > 0) {
            if (first)
                t->lead = 1;
            if (!prev_ws)
                ++len;
            prev_ws = 1;
            u += w;
        }
        else {
            unsigned char c = *u;
            if (c == ',')
                ++ca;
            else if (c >= 0xD8) {
                if ((c == 0xD8 && u[1] == 0x8C)
                    || (c == 0xEF && ((u[1] == 0xB9 && u[2] == 0x90)
                                      || (u[1] == 0xB8 && (u[2] == 0x90 || u[2] == 0x91))
                                      || (u[1] == 0xBC && u[2] == 0x8C)))
                    || (c == 0xE2 && u[1] == 0xB9 && u[2] == 0x81)
                    || (c == 0xE2 && u[1] == 0xB8 && (u[2] == 0xB4 || u[2] == 0xB2)))
                    ++cv;
            }
            ++len;
            prev_ws = 0;
            t->allws = 0;
            ++u;
            while ((*u & 0xC0) == 0x80)
                ++u;
        }
        first = 0;
    }
    t->len = len;
    t->trail = (unsigned char)(len > 0 && prev_ws);
    if (commas)
        *commas += ca;
    if (commas_all)
        *commas_all += ca + cv;
}

/* The measure of a text node, computed once and kept in its _private. */
typedef struct tcache {
    tm_t tm;
    apr_size_t commas, commas_all;
} tcache_t;

static const tcache_t *text_measure(ctx_t *c, xmlNode *n)
{
    tcache_t *t = n->_private;

    if (!t) {
        if (c->tc_left == 0) {
            c->tc_chunk = apr_palloc(c->p, 256 * sizeof(tcache_t));
            c->tc_left = 256;
        }
        t = c->tc_chunk++;
        --c->tc_left;
        t->commas = t->commas_all = 0;
        tm_text(&t->tm, n->content ? (const char *)n->content : "", &t->commas, &t->commas_all);
        n->_private = t;
    }
    return t;
}

/* Tag selection for sums of descendants' text lengths. */
#define SEL_TEXTISH  0x01 /* span, li, td, blockquote, dl, div, img, ol, p, pre, table, ul */
#define SEL_HEADING  0x02 /* h1-h6 */
#define SEL_LIST     0x04 /* ul, ol */

static unsigned sel_of(pk_tag_e t)
{
    unsigned sel = 0;

    switch (t) {
    case PK_TAG_SPAN: case PK_TAG_LI: case PK_TAG_TD: case PK_TAG_BLOCKQUOTE:
    case PK_TAG_DL: case PK_TAG_DIV: case PK_TAG_IMG: case PK_TAG_P: case PK_TAG_PRE:
    case PK_TAG_TABLE:
        sel = SEL_TEXTISH;
        break;
    case PK_TAG_OL: case PK_TAG_UL:
        sel = SEL_TEXTISH | SEL_LIST;
        break;
    case PK_TAG_H1: case PK_TAG_H2: case PK_TAG_H3: case PK_TAG_H4: case PK_TAG_H5:
    case PK_TAG_H6:
        sel = SEL_HEADING;
        break;
    default:
        break;
    }
    return sel;
}

typedef struct {
    apr_size_t len;        /* trimmed, collapsed text length of the root */
    double link_len;       /* sum of descendant <a> lengths (x0.3 for "#..." links) */
    double link_int;       /* the part of link_len in links to this site */
    apr_size_t commas;     /* ASCII commas */
    apr_size_t commas_all; /* all comma variants */
    apr_size_t textish, heading, list; /* sums of descendant lengths per selection */
    apr_size_t n_p, n_img, n_li, n_input, n_elems;
} meas_t;

/* The registrable part of a URL's host, roughly: the last two labels, or three when
 * the second-level label is short under a country code ("example.co.uk",
 * "site.com.br"). From p; NULL without a host. */
static const char *site_of(apr_pool_t *p, const char *url)
{
    const char *h = url ? strstr(url, "://") : NULL, *e, *s, *site = NULL;
    const char *dots[3] = { NULL, NULL, NULL };
    int nd = 0;

    if (h) {
        h += 3;
        e = h + strcspn(h, "/?#:");
        s = memchr(h, '@', (apr_size_t)(e - h));
        if (s)
            h = s + 1;
        for (s = e; s > h && nd < 3; --s)
            if (s[-1] == '.')
                dots[nd++] = s - 1;
        s = h;
        if (nd >= 2) {
            const char *tld = dots[0] + 1, *sld = dots[1] + 1;
            s = sld;
            if (e - tld == 2 && dots[0] - sld <= 3)
                s = nd >= 3 ? dots[2] + 1 : h;
        }
        site = apr_pstrmemdup(p, s, (apr_size_t)(e - s));
    }
    return site;
}

/* Does an <a> point into this site (or nowhere)? Cached in the node. */
static int link_internal(ctx_t *c, xmlNode *a)
{
    nd_t *d = nd_of(c, a);

    if (!(d->flags & ND_LINK_DONE)) {
        const char *href = attr(a, "href");
        int internal = 1;
        if (href && c->site) {
            const char *h = href;
            while (*h == ' ' || *h == '\t' || *h == '\n')
                ++h;
            if ((h[0] == '/' && h[1] == '/') || strstr(h, "://")) {
                const char *abs = h[0] == '/' ? apr_pstrcat(c->p, "http:", h, NULL) : h;
                const char *st = site_of(c->p, abs);
                internal = !st || strcasecmp(st, c->site) == 0;
            }
            else if (ieq_n(h, "mailto:", 7) || ieq_n(h, "tel:", 4))
                internal = 0;
        }
        d->flags |= ND_LINK_DONE | (internal ? ND_LINK_INT : 0);
    }
    return (d->flags & ND_LINK_INT) != 0;
}

typedef struct {
    tm_t tm;
    xmlNode *n;
} frame_t;

/* Measure root's subtree in one post-order walk. */
static void measure(ctx_t *c, xmlNode *root, meas_t *m)
{
    frame_t *st;
    apr_size_t sp = 0;
    xmlNode *n;

    memset(m, 0, sizeof(*m));
    if (!c->frames) {
        c->frames_cap = 300;
        c->frames = apr_palloc(c->p, c->frames_cap * sizeof(frame_t));
    }
    st = c->frames;
    memset(&st[0], 0, sizeof(st[0]));
    st[0].n = root;
    sp = 1;
    n = root->children;
    while (n) {
        int entered = 0;
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) {
                const tcache_t *tc = text_measure(c, n);
                m->commas += tc->commas;
                m->commas_all += tc->commas_all;
                tm_cat(&st[sp - 1].tm, &tc->tm);
            }
        }
        else if (n->type == XML_ELEMENT_NODE) {
            pk_tag_e tg = tag_of(n);
            ++m->n_elems;
            if (tg == PK_TAG_P)
                ++m->n_p;
            else if (tg == PK_TAG_IMG)
                ++m->n_img;
            else if (tg == PK_TAG_LI)
                ++m->n_li;
            else if (tg == PK_TAG_INPUT)
                ++m->n_input;
            if (n->children) {
                if (sp == c->frames_cap) {
                    frame_t *nf = apr_palloc(c->p, c->frames_cap * 2 * sizeof(frame_t));
                    memcpy(nf, st, sp * sizeof(frame_t));
                    c->frames = st = nf;
                    c->frames_cap *= 2;
                }
                memset(&st[sp], 0, sizeof(st[sp]));
                st[sp].n = n;
                ++sp;
                n = n->children;
                entered = 1;
            }
            else if (tg == PK_TAG_IMG) {
                /* an empty element: nothing to add but its selection */
            }
        }
        if (entered)
            continue;
        /* next node, closing the frames we leave */
        while (n && !n->next) {
            n = n->parent;
            if (!n || n == root)
                break;
            {
                frame_t *f = &st[--sp];
                apr_size_t l = tm_trimmed(&f->tm);
                pk_tag_e tg = tag_of(f->n);
                unsigned sel = sel_of(tg);
                if (sel & SEL_TEXTISH)
                    m->textish += l;
                if (sel & SEL_HEADING)
                    m->heading += l;
                if (sel & SEL_LIST)
                    m->list += l;
                if (tg == PK_TAG_A) {
                    const char *href = attr(f->n, "href");
                    double ll = (href && href[0] == '#' && href[1]) ? l * 0.3 : (double)l;
                    m->link_len += ll;
                    if (l && link_internal(c, f->n))
                        m->link_int += ll;
                }
                tm_cat(&st[sp - 1].tm, &f->tm);
            }
        }
        if (!n || n == root)
            break;
        n = n->next;
    }
    m->len = tm_trimmed(&st[0].tm);
}

static apr_size_t text_len(ctx_t *c, xmlNode *n)
{
    meas_t m;

    if (is_text(n))
        m.len = tm_trimmed(&text_measure(c, n)->tm);
    else
        measure(c, n, &m);
    return m.len;
}

static double link_density(ctx_t *c, xmlNode *n)
{
    meas_t m;

    measure(c, n, &m);
    return m.len ? m.link_len / (double)m.len : 0.0;
}

/* textContent of a node (from p). */
static const char *text_content(apr_pool_t *p, const xmlNode *root)
{
    buf_t b = { p, NULL, 0, 0 };
    const char *r;
    xmlNode *n;

    if (is_text(root))
        r = root->content ? (const char *)root->content : "";
    else {
        for (n = root->children; n; n = walk_next(root, n, 0))
            if (is_text(n) && n->content)
                buf_str(&b, (const char *)n->content);
        r = buf_done(&b, NULL);
    }
    return r;
}

/* Readability's _getInnerText(e, true): trimmed, whitespace runs collapsed. */
static const char *inner_text(apr_pool_t *p, const xmlNode *n)
{
    return squash(p, text_content(p, n));
}

/* Does s hold anything but whitespace? */
static int str_has_nonws(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    int w;

    while (*u && (w = ws_len(u)) > 0)
        u += w;
    return *u != '\0';
}

/* Is there any non-whitespace text in the subtree? */
static int has_text(const xmlNode *root)
{
    xmlNode *n;
    int found = 0;

    if (is_text(root))
        found = root->content && str_has_nonws((const char *)root->content);
    else
        for (n = root->children; n && !found; n = walk_next(root, n, 0))
            found = is_text(n) && n->content && str_has_nonws((const char *)n->content);
    return found;
}

/* ========================================================================= */
/* Class/id hints (Readability's regular expressions, as substring tables)    */

typedef struct {
    const char *w;
    unsigned char len;
    unsigned short bits;
} hint_pat_t;

/* sorted by first character; hint_first[c] = { start, end } in this table */
static const hint_pat_t hint_pats[] = {
    { "-ad-", 4, H_UNLIKELY | H_NEGATIVE },
    { "-nav", 4, H_BOILER },
    { "ad-break", 8, H_UNLIKELY },
    { "advert", 6, H_BOILER },
    { "agegate", 7, H_UNLIKELY },
    { "ai2html", 7, H_UNLIKELY },
    { "and", 3, H_MAYBE },
    { "article", 7, H_MAYBE | H_POSITIVE },
    { "author", 6, H_BYLINE },
    { "author-bio", 10, H_BOILER },
    { "authorbio", 9, H_BOILER },
    { "banner", 6, H_UNLIKELY | H_NEGATIVE | H_BOILER },
    { "blog", 4, H_POSITIVE },
    { "body", 4, H_MAYBE | H_POSITIVE },
    { "breadcrumb", 10, H_BOILER },
    { "breadcrumbs", 11, H_UNLIKELY },
    { "byline", 6, H_BYLINE },
    { "caption", 7, H_CAPTION },
    { "column", 6, H_MAYBE },
    { "com-", 4, H_NEGATIVE },
    { "combx", 5, H_UNLIKELY | H_NEGATIVE },
    { "comment", 7, H_UNLIKELY | H_NEGATIVE | H_BOILER },
    { "community", 9, H_UNLIKELY },
    { "contact", 7, H_NEGATIVE },
    { "content", 7, H_MAYBE | H_POSITIVE },
    { "cookie", 6, H_BOILER },
    { "cover-wrap", 10, H_UNLIKELY },
    { "credit", 6, H_CAPTION },
    { "date", 4, H_DATE },
    { "dateline", 8, H_BYLINE },
    { "disqus", 6, H_UNLIKELY | H_BOILER },
    { "entry", 5, H_POSITIVE },
    { "extra", 5, H_UNLIKELY },
    { "follow", 6, H_BOILER },
    { "footer", 6, H_UNLIKELY | H_NEGATIVE | H_BOILER },
    { "gdpr", 4, H_UNLIKELY | H_NEGATIVE | H_BOILER },
    { "h-entry", 7, H_POSITIVE },
    { "header", 6, H_UNLIKELY },
    { "hentry", 6, H_POSITIVE },
    { "hidden", 6, H_NEGATIVE },
    { "legends", 7, H_UNLIKELY },
    { "main", 4, H_MAYBE | H_POSITIVE },
    { "masthead", 8, H_NEGATIVE },
    { "mathjax", 7, H_MAYBE },
    { "media", 5, H_NEGATIVE },
    { "menu", 4, H_UNLIKELY | H_BOILER },
    { "meta", 4, H_NEGATIVE },
    { "modal", 5, H_BOILER },
    { "more-stories", 12, H_BOILER },
    { "most-popular", 12, H_BOILER },
    { "mostpopular", 11, H_BOILER },
    { "nav-", 4, H_BOILER },
    { "navbar", 6, H_BOILER },
    { "navigation", 10, H_BOILER },
    { "newsletter", 10, H_BOILER },
    { "outbrain", 8, H_NEGATIVE | H_BOILER },
    { "p-author", 8, H_BYLINE },
    { "page", 4, H_POSITIVE },
    { "pager", 5, H_UNLIKELY },
    { "pagination", 10, H_UNLIKELY | H_POSITIVE },
    { "paywall", 7, H_BOILER },
    { "popup", 5, H_UNLIKELY | H_BOILER },
    { "post", 4, H_POSITIVE },
    { "posted", 6, H_DATE },
    { "promo", 5, H_NEGATIVE | H_BOILER },
    { "pubdate", 7, H_DATE },
    { "published", 9, H_DATE },
    { "read-more", 9, H_BOILER },
    { "readmore", 8, H_BOILER },
    { "recommend", 9, H_BOILER },
    { "related", 7, H_UNLIKELY | H_NEGATIVE | H_BOILER },
    { "remark", 6, H_UNLIKELY },
    { "replies", 7, H_UNLIKELY },
    { "rss", 3, H_UNLIKELY },
    { "scroll", 6, H_NEGATIVE },
    { "shadow", 6, H_MAYBE },
    { "share", 5, H_NEGATIVE | H_BOILER },
    { "sharing", 7, H_BOILER },
    { "shopping", 8, H_NEGATIVE },
    { "shoutbox", 8, H_UNLIKELY | H_NEGATIVE },
    { "sidebar", 7, H_UNLIKELY | H_NEGATIVE | H_BOILER },
    { "sign-up", 7, H_BOILER },
    { "signup", 6, H_BOILER },
    { "skyscraper", 10, H_UNLIKELY | H_NEGATIVE },
    { "social", 6, H_UNLIKELY | H_BOILER },
    { "sponsor", 7, H_UNLIKELY | H_NEGATIVE | H_BOILER },
    { "story", 5, H_POSITIVE },
    { "subscribe", 9, H_BOILER },
    { "supplemental", 12, H_UNLIKELY },
    { "taboola", 7, H_BOILER },
    { "tag-list", 8, H_BOILER },
    { "taglist", 7, H_BOILER },
    { "tags", 4, H_NEGATIVE | H_BOILER },
    { "teaser", 6, H_BOILER },
    { "text", 4, H_POSITIVE },
    { "time-stamp", 10, H_DATE },
    { "timestamp", 9, H_DATE },
    { "toolbar", 7, H_BOILER },
    { "trending", 8, H_BOILER },
    { "widget", 6, H_NEGATIVE },
    { "writtenby", 9, H_BYLINE },
    { "yom-remote", 10, H_UNLIKELY },
};

static const unsigned char hint_first[128][2] = {
    ['-'] = { 0, 2 }, ['a'] = { 2, 11 }, ['b'] = { 11, 17 }, ['c'] = { 17, 28 },
    ['d'] = { 28, 31 }, ['e'] = { 31, 33 }, ['f'] = { 33, 35 }, ['g'] = { 35, 36 },
    ['h'] = { 36, 40 }, ['l'] = { 40, 41 }, ['m'] = { 41, 51 }, ['n'] = { 51, 55 },
    ['o'] = { 55, 56 }, ['p'] = { 56, 67 }, ['r'] = { 67, 74 }, ['s'] = { 74, 89 },
    ['t'] = { 89, 99 }, ['w'] = { 99, 101 }, ['y'] = { 101, 102 },
};

/* Hint bits of a class or id string. */
static unsigned hint_scan(const char *s)
{
    unsigned bits = 0;
    apr_size_t i, k;

    for (i = 0; s[i]; ++i) {
        int c = ascii_lower((unsigned char)s[i]);
        if (c >= 128)
            continue;
        for (k = hint_first[c][0]; k < hint_first[c][1]; ++k)
            if ((hint_pats[k].bits & ~bits) && ieq_n(s + i, hint_pats[k].w, hint_pats[k].len))
                    bits |= hint_pats[k].bits;
        if (c == 'h' && ieq_n(s + i, "hid", 3) && (i == 0 || s[i - 1] == ' ')
            && (s[i + 3] == '\0' || s[i + 3] == ' '))
            bits |= H_NEGATIVE;
        if (c == 's' && ieq_n(s + i, "share", 5) && (i == 0 || !is_alnum((unsigned char)s[i - 1]))) {
            if (!is_alnum((unsigned char)s[i + 5])
                || (ieq_n(s + i + 5, "daddy", 5) && !is_alnum((unsigned char)s[i + 10])))
                bits |= H_SHARE;
        }
    }
    return bits;
}

/* hint_scan() through a per-document cache: pages repeat their class names. */
static unsigned hint_cached(ctx_t *c, const char *s)
{
    unsigned *v;

    if (!c->hint_cache)
        c->hint_cache = apr_hash_make(c->p);
    v = apr_hash_get(c->hint_cache, s, APR_HASH_KEY_STRING);
    if (!v) {
        v = apr_palloc(c->p, sizeof(*v));
        *v = hint_scan(s);
        apr_hash_set(c->hint_cache, s, APR_HASH_KEY_STRING, v);
    }
    return *v;
}

static nd_t *hints(ctx_t *c, xmlNode *n)
{
    nd_t *d = nd_of(c, n);

    if (!(d->flags & ND_HINTS)) {
        const char *cl = attr(n, "class"), *id = attr(n, "id");
        d->h_class = (uint16_t)(cl && *cl ? hint_cached(c, cl) : 0);
        d->h_id = (uint16_t)(id && *id ? hint_scan(id) : 0);
        d->h_all = d->h_class | d->h_id;
        d->flags |= ND_HINTS;
    }
    return d;
}

/* Readability's _getClassWeight. */
static int class_weight(ctx_t *c, xmlNode *n)
{
    int w = 0;
    nd_t *d;

    if (c->flags & FLAG_WEIGHT_CLASSES) {
        d = hints(c, n);
        if (d->h_class & H_NEGATIVE)
            w -= 25;
        if (d->h_class & H_POSITIVE)
            w += 25;
        if (d->h_id & H_NEGATIVE)
            w -= 25;
        if (d->h_id & H_POSITIVE)
            w += 25;
    }
    return w;
}

/* ========================================================================= */
/* Small predicates of Readability                                            */

/* A CSS declaration prop: value in a style attribute (last one wins). */
static int style_is(const char *style, const char *prop, const char *value)
{
    const char *s = style;
    apr_size_t pl = strlen(prop), vl = strlen(value);
    int result = 0;

    while (s && *s) {
        const char *e = strchr(s, ';'), *colon;
        apr_size_t dl = e ? (apr_size_t)(e - s) : strlen(s);
        colon = memchr(s, ':', dl);
        if (colon) {
            const char *a = s, *b = colon;
            while (a < b && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r'))
                ++a;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n' || b[-1] == '\r'))
                --b;
            if ((apr_size_t)(b - a) == pl && ieq_n(a, prop, pl)) {
                const char *v = colon + 1, *ve = s + dl;
                while (v < ve && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
                    ++v;
                result = (apr_size_t)(ve - v) >= vl && ieq_n(v, value, vl)
                         && (v + vl == ve || v[vl] == ' ' || v[vl] == '!' || v[vl] == '\t'
                             || v[vl] == '\n' || v[vl] == '\r');
            }
        }
        s = e ? e + 1 : NULL;
    }
    return result;
}

static int probably_visible(const xmlNode *n)
{
    const char *style = attr(n, "style"), *aria = attr(n, "aria-hidden");
    const char *cl = attr(n, "class");

    return !(style && (style_is(style, "display", "none")
                       || style_is(style, "visibility", "hidden")))
           && !attr(n, "hidden")
           && !(aria && strcmp(aria, "true") == 0 && !(cl && strstr(cl, "fallback-image")));
}

static int is_phrasing_tag(pk_tag_e t)
{
    int yes = 0;

    switch (t) {
    case PK_TAG_ABBR: case PK_TAG_AUDIO: case PK_TAG_B: case PK_TAG_BDO: case PK_TAG_BR:
    case PK_TAG_BUTTON: case PK_TAG_CITE: case PK_TAG_CODE: case PK_TAG_DATA:
    case PK_TAG_DATALIST: case PK_TAG_DFN: case PK_TAG_EM: case PK_TAG_EMBED:
    case PK_TAG_I: case PK_TAG_IMG: case PK_TAG_INPUT: case PK_TAG_KBD: case PK_TAG_LABEL:
    case PK_TAG_MARK: case PK_TAG_MATH: case PK_TAG_METER: case PK_TAG_NOSCRIPT:
    case PK_TAG_OBJECT: case PK_TAG_OUTPUT: case PK_TAG_PROGRESS: case PK_TAG_Q:
    case PK_TAG_RUBY: case PK_TAG_SAMP: case PK_TAG_SCRIPT: case PK_TAG_SELECT:
    case PK_TAG_SMALL: case PK_TAG_SPAN: case PK_TAG_STRONG: case PK_TAG_SUB:
    case PK_TAG_SUP: case PK_TAG_TEXTAREA: case PK_TAG_TIME: case PK_TAG_VAR:
    case PK_TAG_WBR:
        yes = 1;
        break;
    default:
        break;
    }
    return yes;
}

/* Readability's _isPhrasingContent (a, del and ins are phrasing when all their
 * children are). */
static int is_phrasing(const xmlNode *root)
{
    const xmlNode *n;
    pk_tag_e t;
    int yes;

    if (is_text(root))
        yes = 1;
    else if (!is_elem(root))
        yes = 0;
    else if (is_phrasing_tag(t = tag_of(root)))
        yes = 1;
    else if (t != PK_TAG_A && t != PK_TAG_DEL && t != PK_TAG_INS)
        yes = 0;
    else {
        yes = 1;
        n = root->children;
        while (n && yes) {
            int descend = 0;
            if (!is_text(n)) {
                t = tag_of(n);
                if (!is_elem(n))
                    yes = 0;
                else if (t == PK_TAG_A || t == PK_TAG_DEL || t == PK_TAG_INS)
                    descend = 1;
                else
                    yes = is_phrasing_tag(t);
            }
            n = walk_next(root, (xmlNode *)n, !descend);
        }
    }
    return yes;
}

/* Readability's _isWhitespace. */
static int is_whitespace_node(const xmlNode *n)
{
    return (is_text(n) && !(n->content && str_has_nonws((const char *)n->content)))
           || (is_elem(n) && tag_of(n) == PK_TAG_BR);
}

/* Readability's _nextNode: skip whitespace-only non-elements. */
static xmlNode *next_nonws(xmlNode *n)
{
    while (n && !is_elem(n) && !has_text(n))
        n = n->next;
    return n;
}

static int has_single_tag_inside(const xmlNode *e, pk_tag_e tag)
{
    const xmlNode *c, *only = NULL;
    int k = 0, text = 0;

    for (c = e->children; c && !text; c = c->next) {
        if (is_elem(c)) {
            only = c;
            ++k;
        }
        else if (is_text(c) && c->content) {
            /* "\S$": any text ending in non-whitespace */
            const char *s = (const char *)c->content;
            apr_size_t l = strlen(s);
            text = l && !ws_len((const unsigned char *)s + l - 1)
                   && !(l >= 2 && ws_len((const unsigned char *)s + l - 2) == 2)
                   && !(l >= 3 && ws_len((const unsigned char *)s + l - 3) == 3);
        }
    }
    return !text && k == 1 && tag_of(only) == tag;
}

static int is_element_without_content(const xmlNode *n)
{
    const xmlNode *c;
    apr_size_t kids = 0, brhr = 0;
    int empty = is_elem(n) && !has_text(n);

    if (empty) {
        for (c = n->children; c; c = c->next)
            if (is_elem(c))
                ++kids;
        for (c = kids ? n->children : NULL; c; c = walk_next(n, (xmlNode *)c, 0))
            if (is_elem(c) && (tag_of(c) == PK_TAG_BR || tag_of(c) == PK_TAG_HR))
                ++brhr;
        empty = kids == brhr;
    }
    return empty;
}

static int is_div_to_p_elem(pk_tag_e t)
{
    return t == PK_TAG_BLOCKQUOTE || t == PK_TAG_DL || t == PK_TAG_DIV || t == PK_TAG_IMG
           || t == PK_TAG_OL || t == PK_TAG_P || t == PK_TAG_PRE || t == PK_TAG_TABLE
           || t == PK_TAG_UL;
}

static int has_child_block(const xmlNode *root)
{
    const xmlNode *n;
    int found = 0;

    for (n = root->children; n && !found; n = walk_next(root, (xmlNode *)n, 0))
        found = is_elem(n) && is_div_to_p_elem(tag_of(n));
    return found;
}

/* Does the subtree hold a post embedded from a social network (the markup those
 * networks give out: blockquote.twitter-tweet, .instagram-media, .tiktok-embed)?
 * Such posts are quoted content, whatever the class of their wrapper says. */
static int has_social_embed(const xmlNode *root)
{
    const xmlNode *n;
    int found = 0;

    for (n = root; n && !found; n = walk_next(root, (xmlNode *)n, 0)) {
        const char *cl = (is_elem(n) && tag_of(n) == PK_TAG_BLOCKQUOTE) ? attr(n, "class")
                                                                         : NULL;
        found = cl && (strstr(cl, "twitter-tweet") || strstr(cl, "instagram-media")
                       || strstr(cl, "tiktok-embed"));
    }
    return found;
}

/* ========================================================================= */
/* Text similarity and titles                                                 */

typedef struct {
    const char *s;
    apr_size_t n;
} tok_t;

/* Lower-case \w+ tokens of s (JS \W+ split: only ASCII letters, digits, '_'). */
static apr_size_t js_tokens(apr_pool_t *p, const char *s, tok_t **out)
{
    apr_size_t cap = 16, k = 0, i = 0;
    tok_t *v = apr_palloc(p, cap * sizeof(*v));
    char *low = apr_pstrdup(p, s);

    for (i = 0; low[i]; ++i)
        low[i] = (char)ascii_lower((unsigned char)low[i]);
    i = 0;
    while (low[i]) {
        apr_size_t st;
        while (low[i] && !is_word((unsigned char)low[i]))
            ++i;
        if (!low[i])
            break;
        st = i;
        while (is_word((unsigned char)low[i]))
            ++i;
        if (k == cap) {
            tok_t *nv = apr_palloc(p, cap * 2 * sizeof(*nv));
            memcpy(nv, v, cap * sizeof(*nv));
            v = nv;
            cap *= 2;
        }
        v[k].s = low + st;
        v[k].n = i - st;
        ++k;
    }
    *out = v;
    return k;
}

/* Readability's _textSimilarity: 1 = same words, 0 = different. */
static double text_similarity(apr_pool_t *p, const char *a, const char *b)
{
    tok_t *ta, *tb;
    apr_size_t na = js_tokens(p, a, &ta), nb = js_tokens(p, b, &tb), i, j;
    apr_size_t uniq_len = 0, all_len = 0, uniq_n = 0;
    double sim = 0;

    if (na && nb) {
        for (i = 0; i < nb; ++i) {
            int found = 0;
            for (j = 0; j < na && !found; ++j)
                found = ta[j].n == tb[i].n && memcmp(ta[j].s, tb[i].s, tb[i].n) == 0;
            all_len += tb[i].n;
            if (!found) {
                uniq_len += tb[i].n;
                ++uniq_n;
            }
        }
        all_len += nb - 1;
        if (uniq_n)
            uniq_len += uniq_n - 1;
        sim = 1.0 - (double)uniq_len / (double)all_len;
    }
    return sim;
}

/* JS str.split(/\s+/).length */
static apr_size_t js_word_count(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t k = 1;
    int w, in_ws = 0;

    while (*u) {
        if ((w = ws_len(u)) > 0) {
            if (!in_ws)
                ++k;
            in_ws = 1;
            u += w;
        }
        else {
            in_ws = 0;
            ++u;
        }
    }
    return k;
}

static apr_size_t utf8_chars(const char *s)
{
    apr_size_t k = 0;

    for (; *s; ++s)
        if ((*s & 0xC0) != 0x80)
            ++k;
    return k;
}

/* Is c (at s) one of Readability's title separators | - – — \ / > » ? Returns its
 * byte length or 0. hier: only the hierarchical ones \ / > ». */
static int title_sep(const char *s, int hier)
{
    unsigned char c = (unsigned char)s[0];
    int len = 0;

    if (c == '\\' || c == '/' || c == '>')
        len = 1;
    else if (c == 0xC2 && (unsigned char)s[1] == 0xBB)
        len = 2; /* » */
    else if (hier)
        len = 0;
    else if (c == '|' || c == '-')
        len = 1;
    else if (c == 0xE2 && (unsigned char)s[1] == 0x80
             && ((unsigned char)s[2] == 0x93 || (unsigned char)s[2] == 0x94))
        len = 3; /* – — */
    return len;
}

/* Byte offsets of every "\s[sep]\s" in s (the offset of the leading whitespace). */
static apr_size_t find_seps(const char *s, int hier, apr_size_t *where, apr_size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0, k = 0;
    int w, sl, w2;

    while (u[i]) {
        if ((w = ws_len(u + i)) > 0 && (sl = title_sep(s + i + w, hier)) > 0
            && (w2 = ws_len(u + i + w + sl)) > 0) {
            if (k < max)
                where[k] = i;
            ++k;
            i += w + sl; /* the trailing whitespace may start the next match: no */
            i += w2;
            continue;
        }
        ++i;
    }
    return k;
}

/* Text of the document's <title> (the first one), ASCII whitespace collapsed. */
static const char *doc_title(ctx_t *c)
{
    nodes_t l = collected(c, PK_TAG_TITLE);

    return l.n ? squash(c->p, text_content(c->p, l.v[0])) : "";
}

/* Is an h1/h2 with exactly this (trimmed, squashed) text in the document? */
static int heading_with_text(ctx_t *c, const char *text)
{
    nodes_t l1 = collected(c, PK_TAG_H1), l2 = collected(c, PK_TAG_H2);
    apr_size_t i;
    int found = 0;

    for (i = 0; i < l1.n + l2.n && !found; ++i) {
        xmlNode *h = i < l1.n ? l1.v[i] : l2.v[i - l1.n];
        found = h->parent && strcmp(squash(c->p, text_content(c->p, h)), text) == 0;
    }
    return found;
}

/* Readability's _getArticleTitle. */
static const char *article_title_from_doc(ctx_t *c)
{
    apr_pool_t *p = c->p;
    const char *orig = doc_title(c), *cur = orig;
    apr_size_t seps[64], nsep, wc;
    int hier = 0;

    nsep = find_seps(orig, 0, seps, 64);
    if (nsep > 0) {
        apr_size_t dummy[1];
        hier = find_seps(orig, 1, dummy, 1) > 0;
        cur = apr_pstrmemdup(p, orig, seps[nsep > 64 ? 63 : nsep - 1]);
        if (js_word_count(cur) < 3) {
            /* remove everything up to and including the first separator character */
            const char *s = orig;
            int sl = 0;
            while (*s && !(sl = title_sep(s, 0)))
                ++s;
            cur = *s ? s + sl : orig;
        }
    }
    else if (strstr(cur, ": ")) {
        if (!heading_with_text(c, cur)) {
            const char *last = strrchr(orig, ':'), *first = strchr(orig, ':');
            cur = last + 1;
            if (js_word_count(cur) < 3)
                cur = first + 1;
            else if (js_word_count(apr_pstrmemdup(p, orig, (apr_size_t)(first - orig))) > 5)
                cur = orig;
        }
    }
    else if (utf8_chars(cur) > 150 || utf8_chars(cur) < 15) {
        nodes_t l = collected(c, PK_TAG_H1);
        xmlNode *h1 = NULL;
        apr_size_t i, count = 0;
        for (i = 0; i < l.n; ++i)
            if (l.v[i]->parent) {
                h1 = l.v[i];
                ++count;
            }
        if (count == 1)
            cur = inner_text(p, h1);
    }
    cur = squash(p, cur);
    wc = js_word_count(cur);
    if (wc <= 4) {
        /* origTitle with every "\s[sep]\s" removed */
        buf_t b = { p, NULL, 0, 0 };
        apr_size_t all[64], k = find_seps(orig, 0, all, 64), i, pos = 0;
        for (i = 0; i < k && i < 64; ++i) {
            const unsigned char *u = (const unsigned char *)orig + all[i];
            int w = ws_len(u), sl = title_sep((const char *)u + w, 0);
            int w2 = ws_len(u + w + sl);
            buf_add(&b, orig + pos, all[i] - pos);
            pos = all[i] + (apr_size_t)(w + sl + w2);
        }
        buf_str(&b, orig + pos);
        if (!hier || wc != js_word_count(buf_done(&b, NULL)) - 1)
            cur = orig;
    }
    return cur;
}

/* ========================================================================= */
/* Metadata                                                                   */

typedef struct {
    const char *title, *byline, *excerpt, *site_name, *published, *image;
    const char *body;       /* articleBody, if any */
    int found;
} jsonld_t;

/* Readability's _unescapeHtmlEntities. */
static const char *unescape_entities(apr_pool_t *p, const char *s)
{
    buf_t b = { p, NULL, 0, 0 };
    const char *c = (s && strchr(s, '&')) ? s : "";

    while (*c) {
        int done = 0;
        if (*c == '&') {
            static const struct { const char *e; char ch; } named[] = {
                { "quot;", '"' }, { "amp;", '&' }, { "apos;", '\'' }, { "lt;", '<' },
                { "gt;", '>' } };
            apr_size_t i;
            for (i = 0; i < 5 && !done; ++i) {
                apr_size_t l = strlen(named[i].e);
                if (strncmp(c + 1, named[i].e, l) == 0) {
                    buf_add(&b, &named[i].ch, 1);
                    c += 1 + l;
                    done = 1;
                }
            }
            if (!done && c[1] == '#') {
                const char *d = c + 2;
                int hex = (*d == 'x' || *d == 'X');
                unsigned long v = 0;
                const char *st;
                if (hex)
                    ++d;
                st = d;
                while ((hex && ((*d >= '0' && *d <= '9') || (*d >= 'a' && *d <= 'f')
                                || (*d >= 'A' && *d <= 'F')))
                       || (!hex && *d >= '0' && *d <= '9')) {
                    if (v < 0x200000)
                        v = v * (hex ? 16 : 10)
                            + (unsigned long)(*d <= '9' ? *d - '0' : (*d | 32) - 'a' + 10);
                    ++d;
                }
                if (d > st && *d == ';') {
                    char u8[4];
                    apr_size_t k;
                    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                        v = 0xFFFD;
                    if (v < 0x80) {
                        u8[0] = (char)v;
                        k = 1;
                    }
                    else if (v < 0x800) {
                        u8[0] = (char)(0xC0 | (v >> 6));
                        u8[1] = (char)(0x80 | (v & 0x3F));
                        k = 2;
                    }
                    else if (v < 0x10000) {
                        u8[0] = (char)(0xE0 | (v >> 12));
                        u8[1] = (char)(0x80 | ((v >> 6) & 0x3F));
                        u8[2] = (char)(0x80 | (v & 0x3F));
                        k = 3;
                    }
                    else {
                        u8[0] = (char)(0xF0 | (v >> 18));
                        u8[1] = (char)(0x80 | ((v >> 12) & 0x3F));
                        u8[2] = (char)(0x80 | ((v >> 6) & 0x3F));
                        u8[3] = (char)(0x80 | (v & 0x3F));
                        k = 4;
                    }
                    buf_add(&b, u8, k);
                    c = d + 1;
                    done = 1;
                }
            }
        }
        if (!done) {
            buf_add(&b, c, 1);
            ++c;
        }
    }
    return (s && strchr(s, '&')) ? buf_done(&b, NULL) : s;
}

static const char *trim_dup(apr_pool_t *p, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t n;
    int w;

    while (*u && (w = ws_len(u)) > 0)
        u += w;
    n = strlen((const char *)u);
    while (n > 0) {
        if (ws_len(u + n - 1) == 1)
            --n;
        else if (n >= 2 && ws_len(u + n - 2) == 2)
            n -= 2;
        else if (n >= 3 && ws_len(u + n - 3) == 3)
            n -= 3;
        else
            break;
    }
    return apr_pstrmemdup(p, (const char *)u, n);
}

/* Does a schema.org @type (string, or array of strings) name an article type?
 * Readability's regex /^Article|AdvertiserContentArticle|...|APIReference$/. */
static int is_article_type_str(const char *t)
{
    static const char *const mid[] = {
        "AdvertiserContentArticle", "NewsArticle", "Report", "SatiricalArticle",
        "ScholarlyArticle", "SocialMediaPosting", "BlogPosting", "DiscussionForumPosting",
        "TechArticle", NULL };
    apr_size_t i, n = strlen(t);
    int yes = strncmp(t, "Article", 7) == 0
              || (n >= 12 && strcmp(t + n - 12, "APIReference") == 0);

    for (i = 0; !yes && mid[i]; ++i)
        yes = strstr(t, mid[i]) != NULL;
    return yes;
}

static int is_article_type(const json_t *t)
{
    size_t i;
    json_t *v;
    int yes = 0;

    if (json_is_string(t))
        yes = is_article_type_str(json_string_value(t));
    else if (json_is_array(t))
        json_array_foreach(t, i, v)
            if (!yes && json_is_string(v) && is_article_type_str(json_string_value(v)))
                yes = 1;
    return yes;
}

static int schema_org_url(const char *s)
{
    return s && (strcmp(s, "http://schema.org") == 0 || strcmp(s, "https://schema.org") == 0
                 || strcmp(s, "http://schema.org/") == 0 || strcmp(s, "https://schema.org/") == 0);
}

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An image URL from a JSON-LD image value (string, ImageObject, or array). */
static const char *jimage(const json_t *v)
{
    const char *u = NULL;

    if (json_is_array(v) && json_array_size(v) > 0)
        v = json_array_get(v, 0);
    if (json_is_string(v))
        u = json_string_value(v);
    else if (json_is_object(v))
        u = jstr(v, "url") ? jstr(v, "url") : jstr(v, "contentUrl");
    return u;
}

/* Readability's _getJSONLD, over every <script type="application/ld+json">. */
static void read_jsonld(ctx_t *c, jsonld_t *out)
{
    nodes_t scripts = collected(c, PK_TAG_SCRIPT);
    apr_pool_t *p = c->p;
    apr_size_t si;

    memset(out, 0, sizeof(*out));
    for (si = 0; si < scripts.n && !out->found; ++si) {
        xmlNode *n = scripts.v[si];
        const char *type, *txt;
        json_t *doc, *art;
        json_error_t err;
        apr_size_t len;
        type = attr(n, "type");
        if (!type || strcmp(type, "application/ld+json") != 0)
            continue;
        txt = text_content(p, n);
        while (*txt == ' ' || *txt == '\t' || *txt == '\n' || *txt == '\r')
            ++txt;
        if (strncmp(txt, "<![CDATA[", 9) == 0)
            txt += 9;
        len = strlen(txt);
        while (len > 0 && (txt[len - 1] == ' ' || txt[len - 1] == '\n' || txt[len - 1] == '\t'
                           || txt[len - 1] == '\r'))
            --len;
        if (len >= 3 && memcmp(txt + len - 3, "]]>", 3) == 0)
            len -= 3;
        doc = json_loadb(txt, len, JSON_DECODE_ANY, &err);
        if (!doc)
            continue;
        art = doc;
        if (json_is_array(doc)) {
            size_t i;
            json_t *v;
            art = NULL;
            json_array_foreach(doc, i, v)
                if (json_is_object(v) && is_article_type(json_object_get(v, "@type"))) {
                    art = v;
                    break;
                }
        }
        if (art && json_is_object(art)) {
            const json_t *ctxv = json_object_get(art, "@context");
            int ok = (json_is_string(ctxv) && schema_org_url(json_string_value(ctxv)))
                     || (json_is_object(ctxv) && schema_org_url(jstr(ctxv, "@vocab")));
            if (ok && !json_object_get(art, "@type")
                && json_is_array(json_object_get(art, "@graph"))) {
                size_t i;
                json_t *v, *g = json_object_get(art, "@graph");
                art = NULL;
                json_array_foreach(g, i, v)
                    if (json_is_object(v) && is_article_type(json_object_get(v, "@type"))) {
                        art = v;
                        break;
                    }
            }
            if (!ok || !art || !is_article_type(json_object_get(art, "@type")))
                art = NULL;
        }
        else
            art = NULL;
        if (art) {
            const char *name = jstr(art, "name"), *headline = jstr(art, "headline");
            const json_t *author = json_object_get(art, "author");
            const json_t *pub = json_object_get(art, "publisher");
            out->found = 1;
            if (name && headline && strcmp(name, headline) != 0) {
                const char *title = article_title_from_doc(c);
                int name_m = text_similarity(p, name, title) > 0.75;
                int head_m = text_similarity(p, headline, title) > 0.75;
                out->title = trim_dup(p, (head_m && !name_m) ? headline : name);
            }
            else if (name)
                out->title = trim_dup(p, name);
            else if (headline)
                out->title = trim_dup(p, headline);
            if (json_is_object(author) && jstr(author, "name"))
                out->byline = trim_dup(p, jstr(author, "name"));
            else if (json_is_array(author) && json_array_size(author) > 0
                     && jstr(json_array_get(author, 0), "name")) {
                buf_t b = { p, NULL, 0, 0 };
                size_t i;
                json_t *v;
                json_array_foreach(author, i, v)
                    if (jstr(v, "name")) {
                        if (b.len)
                            buf_str(&b, ", ");
                        buf_str(&b, trim_dup(p, jstr(v, "name")));
                    }
                out->byline = buf_done(&b, NULL);
            }
            if (jstr(art, "description"))
                out->excerpt = trim_dup(p, jstr(art, "description"));
            if (json_is_object(pub) && jstr(pub, "name"))
                out->site_name = trim_dup(p, jstr(pub, "name"));
            if (jstr(art, "datePublished"))
                out->published = trim_dup(p, jstr(art, "datePublished"));
            if (jimage(json_object_get(art, "image")))
                out->image = apr_pstrdup(p, jimage(json_object_get(art, "image")));
            if (jstr(art, "articleBody"))
                out->body = apr_pstrdup(p, jstr(art, "articleBody"));
        }
        json_decref(doc);
    }
}

/* <meta> values Readability reads (last one wins). */
enum {
    M_DC_TITLE, M_DCTERM_TITLE, M_OG_TITLE, M_WEIBO_A_TITLE, M_WEIBO_W_TITLE, M_TITLE,
    M_TWITTER_TITLE, M_PARSELY_TITLE, M_DC_CREATOR, M_DCTERM_CREATOR, M_AUTHOR,
    M_PARSELY_AUTHOR, M_ARTICLE_AUTHOR, M_DC_DESC, M_DCTERM_DESC, M_OG_DESC,
    M_WEIBO_A_DESC, M_WEIBO_W_DESC, M_DESC, M_TWITTER_DESC, M_OG_SITE_NAME,
    M_ARTICLE_PUBLISHED, M_PARSELY_PUB_DATE, M_OG_IMAGE, M_TWITTER_IMAGE, M_OG_LOCALE,
    M_CONTENT_LANGUAGE, M__COUNT
};

static const char *const meta_keys[M__COUNT] = {
    "dc:title", "dcterm:title", "og:title", "weibo:article:title", "weibo:webpage:title",
    "title", "twitter:title", "parsely-title", "dc:creator", "dcterm:creator", "author",
    "parsely-author", "article:author", "dc:description", "dcterm:description",
    "og:description", "weibo:article:description", "weibo:webpage:description",
    "description", "twitter:description", "og:site_name", "article:published_time",
    "parsely-pub-date", "og:image", "twitter:image", "og:locale", "content-language"
};

typedef struct {
    const char *v[M__COUNT];
    const char *published_extra; /* other publication-date metas, first seen */
} meta_t;

static void meta_set(meta_t *m, const char *key, const char *value)
{
    int i;

    for (i = 0; i < M__COUNT; ++i)
        if (strcmp(meta_keys[i], key) == 0) {
            m->v[i] = value;
            break;
        }
}

/* Lower-case copy of s[0..n) without whitespace, dots as colons when dots. */
static char *meta_name(apr_pool_t *p, const char *s, apr_size_t n, int dots)
{
    char *out = apr_palloc(p, n + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v')
            continue;
        if (dots && ch == '.')
            ch = ':';
        *o++ = (char)ascii_lower((unsigned char)ch);
    }
    *o = '\0';
    return out;
}

/* Readability's property pattern: the first "\s*(article|dc|dcterm|og|twitter)\s*:\s*
 * (author|creator|description|published_time|title|site_name)\s*" in the value. */
static const char *meta_property(apr_pool_t *p, const char *prop)
{
    static const char *const pre[] = { "article", "dcterm", "dc", "og", "twitter", NULL };
    static const char *const post[] = { "author", "creator", "description",
                                        "published_time", "title", "site_name",
                                        "image", "locale", NULL };
    const char *key = NULL;
    apr_size_t i;
    int a, b;

    for (i = 0; prop[i] && !key; ++i) {
        for (a = 0; pre[a] && !key; ++a) {
            apr_size_t la = strlen(pre[a]), j = i + la;
            if (!ieq_n(prop + i, pre[a], la))
                continue;
            while (prop[j] == ' ' || prop[j] == '\t' || prop[j] == '\n')
                ++j;
            if (prop[j] != ':')
                continue;
            ++j;
            while (prop[j] == ' ' || prop[j] == '\t' || prop[j] == '\n')
                ++j;
            for (b = 0; post[b] && !key; ++b) {
                apr_size_t lb = strlen(post[b]);
                int ok = ieq_n(prop + j, post[b], lb);
                /* image and locale are ours (og:image, og:locale), not Readability's:
                 * the whole value must be the name ("og:image:alt" is not an image) */
                if (ok && (!strcmp(post[b], "image") || !strcmp(post[b], "locale"))) {
                    const char *rest = prop + j + lb;
                    if (!strcasecmp(rest, ":url") || !strcasecmp(rest, ":secure_url"))
                        rest = "";
                    while (*rest == ' ' || *rest == '\t' || *rest == '\n')
                        ++rest;
                    ok = !*rest && (!strcmp(pre[a], "og") || !strcmp(pre[a], "twitter"));
                }
                if (ok)
                    key = apr_pstrcat(p, meta_name(p, pre[a], la, 0), ":", post[b], NULL);
            }
        }
    }
    return key;
}

/* Readability's name pattern: ^\s*(?:(dc|dcterm|og|twitter|parsely|weibo:(article|
 * webpage))\s*[-.:]\s*)?(author|creator|pub-date|description|title|site_name)\s*$ */
static const char *meta_name_key(apr_pool_t *p, const char *name)
{
    static const char *const pre[] = { "dcterm", "dc", "og", "twitter", "parsely",
                                       "weibo:article", "weibo:webpage", NULL };
    static const char *const post[] = { "author", "creator", "pub-date", "description",
                                        "title", "site_name", NULL };
    const char *s = name, *body, *key = NULL;
    apr_size_t n;
    int a, b;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        ++s;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        --n;
    for (a = -1; (a < 0 || pre[a]) && !key; ++a) {
        body = s;
        if (a >= 0) {
            apr_size_t la = strlen(pre[a]);
            if (n < la || !ieq_n(s, pre[a], la))
                continue;
            body = s + la;
            while (*body == ' ' || *body == '\t')
                ++body;
            if (*body != '-' && *body != '.' && *body != ':')
                continue;
            ++body;
            while (*body == ' ' || *body == '\t')
                ++body;
        }
        for (b = 0; post[b] && !key; ++b) {
            apr_size_t lb = strlen(post[b]);
            if ((apr_size_t)(s + n - body) == lb && ieq_n(body, post[b], lb))
                key = meta_name(p, s, n, 1);
        }
    }
    return key;
}

static void read_meta(ctx_t *c, meta_t *m)
{
    nodes_t metas = collected(c, PK_TAG_META);
    apr_pool_t *p = c->p;
    apr_size_t mi;

    memset(m, 0, sizeof(*m));
    for (mi = 0; mi < metas.n; ++mi) {
        xmlNode *n = metas.v[mi];
        const char *name, *prop, *content, *key = NULL, *itemprop, *he;
        if (!n->parent)
            continue;
        content = attr(n, "content");
        if (!content || !*content)
            continue;
        name = attr(n, "name");
        prop = attr(n, "property");
        if (prop)
            key = meta_property(p, prop);
        if (key)
            meta_set(m, key, trim_dup(p, content));
        if (!key && name && (key = meta_name_key(p, name)) != NULL)
            meta_set(m, key, trim_dup(p, content));
        if (name && (!strcasecmp(name, "twitter:image") || !strcasecmp(name, "twitter:image:src")))
            meta_set(m, "twitter:image", trim_dup(p, content));
        if (name && !strcasecmp(name, "og:image"))
            meta_set(m, "og:image", trim_dup(p, content));
        he = attr(n, "http-equiv");
        if (he && !strcasecmp(he, "content-language"))
            meta_set(m, "content-language", trim_dup(p, content));
        /* other spellings of the publication date (ours, used after Readability's) */
        itemprop = attr(n, "itemprop");
        if (!m->published_extra
            && ((itemprop && !strcasecmp(itemprop, "datePublished"))
                || (name && (!strcasecmp(name, "pubdate") || !strcasecmp(name, "publishdate")
                             || !strcasecmp(name, "publish-date")
                             || !strcasecmp(name, "date") || !strcasecmp(name, "dc.date")
                             || !strcasecmp(name, "dc.date.issued")
                             || !strcasecmp(name, "dcterms.created")
                             || !strcasecmp(name, "sailthru.date")
                             || !strcasecmp(name, "article.published")
                             || !strcasecmp(name, "cxenseparse:recs:publishtime")))
                || (prop && (!strcasecmp(prop, "og:published_time")
                             || !strcasecmp(prop, "article:published")))))
            m->published_extra = trim_dup(p, content);
    }
}

static int looks_like_url(const char *s)
{
    const char *c = s;
    int yes = is_alnum((unsigned char)*c) && !(*c >= '0' && *c <= '9');

    while (yes && (is_alnum((unsigned char)*c) || *c == '+' || *c == '-' || *c == '.'))
        ++c;
    return yes && *c == ':' && c[1] != '\0';
}

typedef struct {
    const char *title, *byline, *excerpt, *site_name, *published, *image, *lang;
    const char *jsonld_body;
} metadata_t;

/* Readability's _getArticleMetadata, plus lead image and language. */
static void get_metadata(ctx_t *c, const jsonld_t *j, metadata_t *md)
{
    apr_pool_t *p = c->p;
    meta_t m;
    const char *article_author;

    read_meta(c, &m);
    memset(md, 0, sizeof(*md));
#define FIRST(x) if (!md->title) md->title = (x)
    md->title = j->title;
    FIRST(m.v[M_DC_TITLE]);
    FIRST(m.v[M_DCTERM_TITLE]);
    FIRST(m.v[M_OG_TITLE]);
    FIRST(m.v[M_WEIBO_A_TITLE]);
    FIRST(m.v[M_WEIBO_W_TITLE]);
    FIRST(m.v[M_TITLE]);
    FIRST(m.v[M_TWITTER_TITLE]);
    FIRST(m.v[M_PARSELY_TITLE]);
#undef FIRST
    if (!md->title || !*md->title)
        md->title = article_title_from_doc(c);
    article_author = m.v[M_ARTICLE_AUTHOR] && !looks_like_url(m.v[M_ARTICLE_AUTHOR])
                     ? m.v[M_ARTICLE_AUTHOR] : NULL;
    md->byline = j->byline ? j->byline
                 : m.v[M_DC_CREATOR] ? m.v[M_DC_CREATOR]
                 : m.v[M_DCTERM_CREATOR] ? m.v[M_DCTERM_CREATOR]
                 : m.v[M_AUTHOR] ? m.v[M_AUTHOR]
                 : m.v[M_PARSELY_AUTHOR] ? m.v[M_PARSELY_AUTHOR] : article_author;
    md->excerpt = j->excerpt ? j->excerpt
                  : m.v[M_DC_DESC] ? m.v[M_DC_DESC]
                  : m.v[M_DCTERM_DESC] ? m.v[M_DCTERM_DESC]
                  : m.v[M_OG_DESC] ? m.v[M_OG_DESC]
                  : m.v[M_WEIBO_A_DESC] ? m.v[M_WEIBO_A_DESC]
                  : m.v[M_WEIBO_W_DESC] ? m.v[M_WEIBO_W_DESC]
                  : m.v[M_DESC] ? m.v[M_DESC] : m.v[M_TWITTER_DESC];
    md->site_name = j->site_name ? j->site_name : m.v[M_OG_SITE_NAME];
    md->published = j->published ? j->published
                    : m.v[M_ARTICLE_PUBLISHED] ? m.v[M_ARTICLE_PUBLISHED]
                    : m.v[M_PARSELY_PUB_DATE] ? m.v[M_PARSELY_PUB_DATE] : m.published_extra;
    md->image = m.v[M_OG_IMAGE] ? m.v[M_OG_IMAGE]
                : j->image ? j->image : m.v[M_TWITTER_IMAGE];
    md->lang = m.v[M_CONTENT_LANGUAGE];
    if (!md->lang && m.v[M_OG_LOCALE]) {
        char *l = apr_pstrdup(p, m.v[M_OG_LOCALE]), *u;
        for (u = l; *u; ++u)
            if (*u == '_')
                *u = '-';
        md->lang = l;
    }
    md->jsonld_body = j->body;
    md->title = unescape_entities(p, md->title);
    md->byline = unescape_entities(p, md->byline);
    md->excerpt = unescape_entities(p, md->excerpt);
    md->site_name = unescape_entities(p, md->site_name);
    md->published = unescape_entities(p, md->published);
}

/* ========================================================================= */
/* Document preparation (Readability's parse() before _grabArticle)           */

static int has_image_ext(const char *v)
{
    const char *s;
    int yes = 0;

    for (s = strchr(v, '.'); s && !yes; s = strchr(s + 1, '.'))
        yes = ieq_n(s + 1, "jpg", 3) || ieq_n(s + 1, "jpeg", 4) || ieq_n(s + 1, "png", 3)
              || ieq_n(s + 1, "webp", 4);
    return yes;
}

/* Readability's _isSingleImage. */
static xmlNode *single_image(xmlNode *n)
{
    while (n && tag_of(n) != PK_TAG_IMG)
        n = (el_count(n) != 1 || has_text(n)) ? NULL : first_el(n);
    return n;
}

static xmlNode *first_desc(const xmlNode *root, pk_tag_e tag)
{
    xmlNode *n = root ? root->children : NULL;

    while (n && !(is_elem(n) && tag_of(n) == tag))
        n = walk_next(root, n, 0);
    return n;
}

/* Readability's _unwrapNoscriptImages. */
static void unwrap_noscript_images(ctx_t *c)
{
    nodes_t imgs = collected(c, PK_TAG_IMG), ns;
    apr_size_t i;

    for (i = 0; i < imgs.n; ++i) {
        xmlAttr *a;
        int keep = 0;
        for (a = imgs.v[i]->properties; a && !keep; a = a->next) {
            const char *nm = (const char *)a->name;
            if (!strcmp(nm, "src") || !strcmp(nm, "srcset") || !strcmp(nm, "data-src")
                || !strcmp(nm, "data-srcset"))
                keep = 1;
            else if (has_image_ext(attr_or_empty(imgs.v[i], nm)))
                keep = 1;
        }
        if (!keep)
            drop(c, imgs.v[i]);
    }
    ns = collected(c, PK_TAG_NOSCRIPT);
    for (i = 0; i < ns.n; ++i) {
        xmlNode *nsc = ns.v[i], *prev, *prev_img, *new_img, *repl;
        xmlAttr *a;
        if (!nsc->parent || !single_image(nsc))
            continue;
        prev = prev_el(nsc);
        if (!prev || !(prev_img = single_image(prev)))
            continue;
        new_img = tag_of(nsc) == PK_TAG_IMG ? nsc : first_desc(nsc, PK_TAG_IMG);
        repl = first_el(nsc);
        if (!new_img || !repl)
            continue;
        for (a = prev_img->properties; a; a = a->next) {
            const char *nm = (const char *)a->name, *v = attr_or_empty(prev_img, nm), *cur;
            if (!*v)
                continue;
            if (strcmp(nm, "src") && strcmp(nm, "srcset") && !has_image_ext(v))
                continue;
            cur = attr(new_img, nm);
            if (cur && strcmp(cur, v) == 0)
                continue;
            set_attr(new_img, cur ? apr_pstrcat(c->p, "data-old-", nm, NULL) : nm, v);
        }
        replace_node(c, prev, repl, 0);
    }
}

static void remove_collected(ctx_t *c, pk_tag_e t)
{
    nodes_t l = collected(c, t);
    apr_size_t i;

    for (i = l.n; i > 0; --i)
        drop(c, l.v[i - 1]);
}

/* Readability's _replaceBrs: runs of 2+ <br> become paragraph breaks. */
static void replace_brs(ctx_t *c, xmlNode *body)
{
    nodes_t brs = collected(c, PK_TAG_BR);
    apr_size_t i;

    for (i = 0; i < brs.n; ++i) {
        xmlNode *br = brs.v[i], *next = br->next, *p, *sib;
        int replaced = 0;
        if (!br->parent || !attached_under(br, body))
            continue;
        while ((next = next_nonws(next)) != NULL && tag_of(next) == PK_TAG_BR) {
            xmlNode *s2 = next->next;
            replaced = 1;
            drop(c, next);
            next = s2;
        }
        if (!replaced)
            continue;
        p = new_elem(c, "p");
        if (!p)
            continue;
        replace_node(c, br, p, 0);
        next = p->next;
        while (next) {
            if (tag_of(next) == PK_TAG_BR) {
                xmlNode *ne = next_nonws(next->next);
                if (ne && tag_of(ne) == PK_TAG_BR)
                    break;
            }
            if (!is_phrasing(next))
                break;
            sib = next->next;
            link_append(p, next);
            next = sib;
        }
        while (p->last && is_whitespace_node(p->last))
            drop(c, p->last);
        if (p->parent && tag_of(p->parent) == PK_TAG_P)
            set_tag(c, p->parent, "div");
    }
}

/* ========================================================================= */
/* Readability's _grabArticle                                                 */

static void init_node(ctx_t *c, xmlNode *n)
{
    nd_t *d = nd_of(c, n);
    double s = 0;

    switch ((pk_tag_e)d->tag) {
    case PK_TAG_DIV:
        s += 5;
        break;
    case PK_TAG_PRE: case PK_TAG_TD: case PK_TAG_BLOCKQUOTE:
        s += 3;
        break;
    case PK_TAG_ADDRESS: case PK_TAG_OL: case PK_TAG_UL: case PK_TAG_DL: case PK_TAG_DD:
    case PK_TAG_DT: case PK_TAG_LI: case PK_TAG_FORM:
        s -= 3;
        break;
    case PK_TAG_H1: case PK_TAG_H2: case PK_TAG_H3: case PK_TAG_H4: case PK_TAG_H5:
    case PK_TAG_H6: case PK_TAG_TH:
        s -= 5;
        break;
    default:
        break;
    }
    d->score = s + class_weight(c, n);
    d->flags |= ND_SCORED;
}

static int scored(const xmlNode *n)
{
    return n->_private && (((nd_t *)n->_private)->flags & ND_SCORED);
}

static double score_of(const xmlNode *n)
{
    return n->_private ? ((nd_t *)n->_private)->score : 0;
}

static xmlNode *remove_and_next(ctx_t *c, xmlNode *n)
{
    xmlNode *next = next_node(n, 1);

    drop(c, n);
    return next;
}

static int is_valid_byline(ctx_t *c, xmlNode *n)
{
    const char *rel = attr(n, "rel"), *itemprop = attr(n, "itemprop");
    nd_t *d = hints(c, n);
    apr_size_t len = 0;

    if ((rel && !strcmp(rel, "author")) || (itemprop && strstr(itemprop, "author"))
        || (d->h_all & H_BYLINE))
        len = utf8_chars(trim_dup(c->p, text_content(c->p, n)));
    return len > 0 && len < 100;
}

static int header_duplicates_title(ctx_t *c, xmlNode *n)
{
    pk_tag_e t = tag_of(n);

    return (t == PK_TAG_H1 || t == PK_TAG_H2)
           && text_similarity(c->p, c->article_title ? c->article_title : "",
                              trim_dup(c->p, text_content(c->p, n))) > 0.75;
}

static int unlikely_role(const char *role)
{
    static const char *const roles[] = { "menu", "menubar", "complementary", "navigation",
                                         "alert", "alertdialog", "dialog", NULL };
    int i, yes = 0;

    for (i = 0; role && !yes && roles[i]; ++i)
        yes = !strcmp(role, roles[i]);
    return yes;
}

/* Put runs of phrasing content directly in a div into <p>s (Readability). */
static void wrap_phrasing(ctx_t *c, xmlNode *div)
{
    xmlNode *child = div->children, *next;
    nodes_t frag = { NULL, 0, 0 };

    while (child) {
        next = child->next;
        if (is_phrasing(child)) {
            apr_size_t a = 0, b, i;
            frag.n = 0;
            do {
                next = child->next;
                nodes_add(c->p, &frag, child);
                child = next;
            } while (child && is_phrasing(child));
            b = frag.n;
            while (a < b && is_whitespace_node(frag.v[a]))
                drop(c, frag.v[a++]);
            while (b > a && is_whitespace_node(frag.v[b - 1]))
                drop(c, frag.v[--b]);
            if (a < b) {
                xmlNode *p = new_elem(c, "p");
                if (p) {
                    if (next)
                        link_before(next, p);
                    else
                        link_append(div, p);
                    for (i = a; i < b; ++i)
                        link_append(p, frag.v[i]);
                }
            }
        }
        child = next;
    }
}

typedef struct {
    xmlNode *content;   /* the article (a detached <div>) */
    apr_size_t text_len;
    xmlNode *top;       /* the top candidate */
    xmlNode *top_parent;
} grab_t;

static void prep_article(ctx_t *c, xmlNode *art);

static int grab_article(ctx_t *c, xmlNode *page, grab_t *g)
{
    apr_pool_t *p = c->p;
    nodes_t to_score = { NULL, 0, 0 }, cands = { NULL, 0, 0 };
    xmlNode *node, *top[5] = { NULL, NULL, NULL, NULL, NULL }, *tc, *parent, *art, *sib, *nsib;
    int remove_title_header = 1, needed_new_top = 0, ntop = 5;
    apr_size_t i;
    double threshold;

    memset(g, 0, sizeof(*g));
    node = xmlDocGetRootElement(c->doc);
    while (node) {
        pk_tag_e t = tag_of(node);
        nd_t *d;
        const char *role;
        if (t == PK_TAG_HTML)
            c->article_lang = attr(node, "lang");
        if (!probably_visible(node)) {
            node = remove_and_next(c, node);
            continue;
        }
        if (attr(node, "aria-modal") && !strcmp(attr(node, "aria-modal"), "true")
            && attr(node, "role") && !strcmp(attr(node, "role"), "dialog")) {
            node = remove_and_next(c, node);
            continue;
        }
        d = hints(c, node);
        if (!c->dom_byline && !c->have_meta_byline && is_valid_byline(c, node)) {
            xmlNode *end = next_node(node, 1), *nx = next_node(node, 0), *name_node = NULL;
            while (nx && nx != end) {
                const char *ip = attr(nx, "itemprop");
                if (ip && strstr(ip, "name")) {
                    name_node = nx;
                    break;
                }
                nx = next_node(nx, 0);
            }
            c->dom_byline = trim_dup(p, text_content(p, name_node ? name_node : node));
            node = remove_and_next(c, node);
            continue;
        }
        if (remove_title_header && header_duplicates_title(c, node)) {
            remove_title_header = 0;
            node = remove_and_next(c, node);
            continue;
        }
        if (c->flags & FLAG_STRIP_UNLIKELYS) {
            if ((d->h_all & H_UNLIKELY) && !(d->h_all & H_MAYBE)
                && !has_ancestor_tag(node, PK_TAG_TABLE, 3, 0)
                && !has_ancestor_tag(node, PK_TAG_CODE, 3, 0)
                && t != PK_TAG_BODY && t != PK_TAG_A && !has_social_embed(node)) {
                node = remove_and_next(c, node);
                continue;
            }
            role = attr(node, "role");
            if (unlikely_role(role)) {
                node = remove_and_next(c, node);
                continue;
            }
        }
        if ((t == PK_TAG_DIV || t == PK_TAG_SECTION || t == PK_TAG_HEADER || t == PK_TAG_H1
             || t == PK_TAG_H2 || t == PK_TAG_H3 || t == PK_TAG_H4 || t == PK_TAG_H5
             || t == PK_TAG_H6) && is_element_without_content(node)) {
            node = remove_and_next(c, node);
            continue;
        }
        if (t == PK_TAG_SECTION || t == PK_TAG_H2 || t == PK_TAG_H3 || t == PK_TAG_H4
            || t == PK_TAG_H5 || t == PK_TAG_H6 || t == PK_TAG_P || t == PK_TAG_TD
            || t == PK_TAG_PRE)
            nodes_add(p, &to_score, node);
        if (t == PK_TAG_DIV) {
            wrap_phrasing(c, node);
            if (has_single_tag_inside(node, PK_TAG_P) && link_density(c, node) < 0.25) {
                xmlNode *np = first_el(node);
                replace_node(c, node, np, 0);
                node = np;
                nodes_add(p, &to_score, node);
            }
            else if (!has_child_block(node)) {
                set_tag(c, node, "p");
                nodes_add(p, &to_score, node);
            }
        }
        node = next_node(node, 0);
    }

    /* score paragraphs into their ancestors */
    for (i = 0; i < to_score.n; ++i) {
        xmlNode *el = to_score.v[i], *a;
        meas_t m;
        double score;
        int level;
        if (!el->parent || !is_elem(el->parent))
            continue;
        measure(c, el, &m);
        if (m.len < 25)
            continue;
        score = 1 + (double)(m.commas_all + 1) + (double)(m.len / 100 > 3 ? 3 : m.len / 100);
        for (a = el->parent, level = 0; a && level < 5; a = a->parent, ++level) {
            double div;
            if (!is_elem(a) || !a->parent || !is_elem(a->parent))
                continue;
            if (!scored(a)) {
                init_node(c, a);
                nodes_add(p, &cands, a);
            }
            div = level == 0 ? 1 : level == 1 ? 2 : level * 3;
            ((nd_t *)a->_private)->score += score / div;
        }
    }
    for (i = 0; i < cands.n; ++i) {
        xmlNode *cd = cands.v[i];
        nd_t *d = cd->_private;
        int t, k;
        d->score *= 1 - link_density(c, cd);
        for (t = 0; t < ntop; ++t) {
            if (!top[t] || d->score > score_of(top[t])) {
                for (k = ntop - 1; k > t; --k)
                    top[k] = top[k - 1];
                top[t] = cd;
                break;
            }
        }
    }

    tc = top[0];
    if (!tc || tag_of(tc) == PK_TAG_BODY) {
        tc = new_elem(c, "div");
        needed_new_top = 1;
        while (page->children)
            link_append(tc, page->children);
        link_append(page, tc);
        init_node(c, tc);
    }
    else {
        /* an ancestor shared by several near-top candidates */
        nodes_t alt[4];
        int nalt = 0, t;
        for (t = 1; t < ntop && top[t]; ++t) {
            if (score_of(top[0]) != 0 && score_of(top[t]) / score_of(top[0]) >= 0.75 && nalt < 4) {
                xmlNode *a;
                alt[nalt].n = alt[nalt].cap = 0;
                alt[nalt].v = NULL;
                for (a = top[t]->parent; a && is_elem(a); a = a->parent)
                    nodes_add(p, &alt[nalt], a);
                ++nalt;
            }
        }
        if (nalt >= 3) {
            parent = tc->parent;
            while (parent && is_elem(parent) && tag_of(parent) != PK_TAG_BODY) {
                int lists = 0, li;
                for (li = 0; li < nalt && lists < 3; ++li) {
                    apr_size_t k;
                    for (k = 0; k < alt[li].n; ++k)
                        if (alt[li].v[k] == parent) {
                            ++lists;
                            break;
                        }
                }
                if (lists >= 3) {
                    tc = parent;
                    break;
                }
                parent = parent->parent;
            }
        }
        if (!scored(tc))
            init_node(c, tc);
        /* climb while the parents' scores go up */
        parent = tc->parent;
        {
            double last = score_of(tc), thr = last / 3;
            while (parent && is_elem(parent) && tag_of(parent) != PK_TAG_BODY) {
                if (!scored(parent)) {
                    parent = parent->parent;
                    continue;
                }
                if (score_of(parent) < thr)
                    break;
                if (score_of(parent) > last) {
                    tc = parent;
                    break;
                }
                last = score_of(parent);
                parent = parent->parent;
            }
        }
        /* the only child: use the parent */
        parent = tc->parent;
        while (parent && is_elem(parent) && tag_of(parent) != PK_TAG_BODY
               && el_count(parent) == 1) {
            tc = parent;
            parent = tc->parent;
        }
        if (!scored(tc))
            init_node(c, tc);
    }

    /* siblings of the top candidate that belong to the article */
    art = new_elem(c, "div");
    threshold = score_of(tc) * 0.2 > 10 ? score_of(tc) * 0.2 : 10;
    parent = tc->parent;
    g->top_parent = parent;
    for (sib = parent ? first_el(parent) : NULL; sib; sib = nsib) {
        int append = 0;
        nsib = next_el(sib);
        if (sib == tc)
            append = 1;
        else {
            double bonus = 0;
            const char *sc = attr_or_empty(sib, "class"), *tcc = attr_or_empty(tc, "class");
            if (*tcc && !strcmp(sc, tcc))
                bonus += score_of(tc) * 0.2;
            if (scored(sib) && score_of(sib) + bonus >= threshold)
                append = 1;
            else if (tag_of(sib) == PK_TAG_P) {
                meas_t m;
                double ld;
                measure(c, sib, &m);
                ld = m.len ? m.link_len / (double)m.len : 0;
                if (m.len > 80 && ld < 0.25)
                    append = 1;
                else if (m.len < 80 && m.len > 0 && ld == 0) {
                    const char *txt = inner_text(p, sib), *dot;
                    for (dot = strchr(txt, '.'); dot && !append; dot = strchr(dot + 1, '.'))
                        if (dot[1] == ' ' || dot[1] == '\0')
                            append = 1;
                }
            }
        }
        if (append) {
            pk_tag_e t = tag_of(sib);
            /* Readability turns other siblings into <div>s (a <td> or a <form> would be
             * filtered out later); elements whose meaning the HTML output needs (tables,
             * figures, quotes, code, headings, definition lists) keep their tag */
            if (t != PK_TAG_DIV && t != PK_TAG_ARTICLE && t != PK_TAG_SECTION && t != PK_TAG_P
                && t != PK_TAG_OL && t != PK_TAG_UL && t != PK_TAG_TABLE && t != PK_TAG_FIGURE
                && t != PK_TAG_BLOCKQUOTE && t != PK_TAG_PRE && t != PK_TAG_DL
                && !(t >= PK_TAG_H1 && t <= PK_TAG_H6))
                set_tag(c, sib, "div");
            link_append(art, sib);
        }
    }
    prep_article(c, art);
    (void)needed_new_top;
    g->content = art;
    g->top = tc;
    g->text_len = text_len(c, art);
    return 1;
}

/* ========================================================================= */
/* Readability's _prepArticle                                                 */

static int is_video_url(ctx_t *c, const char *v)
{
    const char *const *h;
    const char *s = strstr(v, "//"), *e;
    apr_size_t hl;
    int yes = 0;

    if (s) {
        s += 2;
        e = s + strcspn(s, "/?#:\"' ");
        hl = (apr_size_t)(e - s);
        for (h = c->video_hosts; *h && !yes; ++h) {
            apr_size_t n = strlen(*h);
            yes = (hl == n && !strncasecmp(s, *h, n))
                  || (hl > n && s[hl - n - 1] == '.' && !strncasecmp(s + hl - n, *h, n));
        }
    }
    return yes;
}

static int attrs_have_video(ctx_t *c, const xmlNode *n)
{
    const xmlAttr *a;
    int yes = 0;

    for (a = n->properties; a && !yes; a = a->next)
        yes = is_video_url(c, attr_or_empty(n, (const char *)a->name));
    return yes;
}

/* Is an <object>/<embed>/<iframe> an allowed video? (attributes, and for <object>
 * its <param>/<embed> children) */
static int is_video_embed(ctx_t *c, xmlNode *n)
{
    xmlNode *d;
    int yes = attrs_have_video(c, n);

    if (!yes && tag_of(n) == PK_TAG_OBJECT)
        for (d = n->children; d && !yes; d = walk_next(n, d, 0))
            yes = is_elem(d) && attrs_have_video(c, d);
    return yes;
}

/* Readability's _clean: remove every descendant with the tag (videos excepted). */
static void clean_tag(ctx_t *c, xmlNode *e, pk_tag_e tag)
{
    nodes_t l = by_tag(c->p, e, tag);
    int embed = tag == PK_TAG_OBJECT || tag == PK_TAG_EMBED || tag == PK_TAG_IFRAME;
    apr_size_t i;

    for (i = l.n; i > 0; --i) {
        xmlNode *n = l.v[i - 1];
        if (!n->parent)
            continue;
        if (embed && is_video_embed(c, n))
            continue;
        drop(c, n);
    }
}

static void mark_data_tables(ctx_t *c, xmlNode *root)
{
    nodes_t tables = by_tag(c->p, root, PK_TAG_TABLE);
    apr_size_t i;

    for (i = 0; i < tables.n; ++i) {
        xmlNode *t = tables.v[i], *cap, *n;
        nd_t *d = nd_of(c, t);
        const char *v;
        int data = 0, decided = 0;
        apr_size_t rows = 0, cols = 0;
        d->flags &= (uint16_t)~ND_DATATABLE;
        if ((v = attr(t, "role")) && !strcmp(v, "presentation"))
            decided = 1;
        else if ((v = attr(t, "datatable")) && !strcmp(v, "0"))
            decided = 1;
        else if ((v = attr(t, "summary")) && *v)
            data = decided = 1;
        else if ((cap = first_desc(t, PK_TAG_CAPTION)) && cap->children)
            data = decided = 1;
        else if (first_desc(t, PK_TAG_COL) || first_desc(t, PK_TAG_COLGROUP)
                 || first_desc(t, PK_TAG_TFOOT) || first_desc(t, PK_TAG_THEAD)
                 || first_desc(t, PK_TAG_TH))
            data = decided = 1;
        else if (first_desc(t, PK_TAG_TABLE))
            decided = 1;
        if (!decided) {
            for (n = t->children; n; n = walk_next(t, n, 0)) {
                xmlNode *cell;
                apr_size_t in_row = 0;
                if (tag_of(n) != PK_TAG_TR)
                    continue;
                v = attr(n, "rowspan");
                rows += (v && atoi(v) > 0) ? (apr_size_t)atoi(v) : 1;
                for (cell = n->children; cell; cell = walk_next(n, cell, 0))
                    if (tag_of(cell) == PK_TAG_TD) {
                        v = attr(cell, "colspan");
                        in_row += (v && atoi(v) > 0) ? (apr_size_t)atoi(v) : 1;
                    }
                if (in_row > cols)
                    cols = in_row;
            }
            if (cols == 1 || rows == 1)
                data = 0;
            else if (rows >= 10 || cols > 4)
                data = 1;
            else
                data = rows * cols > 10;
        }
        if (data)
            d->flags |= ND_DATATABLE;
    }
}

/* data: URLs of base64 images: the media type (from p) and the payload length. */
static const char *b64_data_url(apr_pool_t *p, const char *src, apr_size_t *payload)
{
    const char *s = src, *mt = NULL, *e = NULL, *type = NULL;
    int ok = ieq_n(s, "data:", 5);

    if (ok) {
        s += 5;
        while (*s == ' ' || *s == '\t')
            ++s;
        mt = s;
        while (*s && *s != ';' && *s != ',' && *s != ' ')
            ++s;
        e = s;
        while (*s == ' ')
            ++s;
        ok = e > mt && *s == ';';
    }
    if (ok) {
        ++s;
        while (*s == ' ')
            ++s;
        ok = ieq_n(s, "base64", 6);
    }
    if (ok) {
        s += 6;
        while (*s == ' ')
            ++s;
        ok = *s == ',';
    }
    if (ok) {
        *payload = strlen(s + 1);
        type = apr_pstrmemdup(p, mt, (apr_size_t)(e - mt));
    }
    return type;
}

/* ".jpg 2x" style srcset values and single image URLs. */
static int srcset_like(const char *v)
{
    const char *s;
    int yes = 0;

    for (s = strchr(v, '.'); s && !yes; s = strchr(s + 1, '.')) {
        int l = ieq_n(s + 1, "jpeg", 4) || ieq_n(s + 1, "webp", 4) ? 4
                : (ieq_n(s + 1, "jpg", 3) || ieq_n(s + 1, "png", 3)) ? 3 : 0;
        const char *q = s + 1 + l;
        if (!l || (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != '\f'))
            continue;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == '\f')
            ++q;
        yes = *q >= '0' && *q <= '9';
    }
    return yes;
}

static int single_url_like(const char *v)
{
    const char *s = v, *st, *e;
    int yes = 0;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        ++s;
    st = s;
    while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
        ++s;
    e = s;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        ++s;
    /* \S+\.(jpg|jpeg|png|webp)\S* : an extension after at least one character */
    if (!*s && e > st)
        for (s = st + 1; s < e && !yes; ++s)
            yes = *s == '.' && (ieq_n(s + 1, "jpg", 3) || ieq_n(s + 1, "jpeg", 4)
                                || ieq_n(s + 1, "png", 3) || ieq_n(s + 1, "webp", 4));
    return yes;
}

/* Readability's _fixLazyImages. */
static void fix_lazy_images(ctx_t *c, xmlNode *root)
{
    static const pk_tag_e tags[] = { PK_TAG_IMG, PK_TAG_PICTURE, PK_TAG_FIGURE };
    nodes_t l = by_tags(c->p, root, tags, 3);
    apr_size_t i;

    for (i = 0; i < l.n; ++i) {
        xmlNode *e = l.v[i];
        pk_tag_e t = tag_of(e);
        const char *src = t == PK_TAG_IMG ? attr(e, "src") : NULL;
        const char *srcset = t == PK_TAG_IMG ? attr(e, "srcset") : NULL;
        const char *cls = attr_or_empty(e, "class");
        const char *values[64];
        int na = 0, k, skip = 0;
        xmlAttr *a;
        apr_size_t payload = 0;
        const char *mt;
        if (src && (mt = b64_data_url(c->p, src, &payload)) != NULL) {
            if (!strcmp(mt, "image/svg+xml"))
                skip = 1;
            else {
                int removable = 0;
                for (a = e->properties; a && !removable; a = a->next)
                    if (strcmp((const char *)a->name, "src")
                        && has_image_ext(attr_or_empty(e, (const char *)a->name)))
                        removable = 1;
                if (removable && payload < 133) {
                    unset_attr(e, "src");
                    src = NULL;
                }
            }
        }
        if (skip)
            continue;
        {
            int lazy = 0;
            const char *s;
            for (s = cls; *s && !lazy; ++s)
                lazy = ieq_n(s, "lazy", 4);
            if (((src && *src) || (srcset && *srcset && strcmp(srcset, "null"))) && !lazy)
                continue;
        }
        for (a = e->properties; a && na < 64; a = a->next) {
            const char *nm = (const char *)a->name;
            if (!strcmp(nm, "src") || !strcmp(nm, "srcset") || !strcmp(nm, "alt"))
                continue;
            values[na] = attr_or_empty(e, nm);
            ++na;
        }
        for (k = 0; k < na; ++k) {
            const char *copy_to = NULL;
            if (srcset_like(values[k]))
                copy_to = "srcset";
            else if (single_url_like(values[k]))
                copy_to = "src";
            if (!copy_to)
                continue;
            if (t == PK_TAG_IMG || t == PK_TAG_PICTURE)
                set_attr(e, copy_to, values[k]);
            else if (t == PK_TAG_FIGURE && !first_desc(e, PK_TAG_IMG)
                     && !first_desc(e, PK_TAG_PICTURE)) {
                xmlNode *img = new_elem(c, "img");
                if (img) {
                    set_attr(img, copy_to, values[k]);
                    link_append(e, img);
                }
            }
        }
    }
}

static int is_ad_or_loading_word(const char *s)
{
    static const char *const words[] = {
        "ad", "advertising", "advertisement", "pub", "publicit\xc3\xa9", "werb", "werbung",
        "\xe5\xb9\xbf\xe5\x91\x8a", "\xd0\xa0\xd0\xb5\xd0\xba\xd0\xbb\xd0\xb0\xd0\xbc\xd0\xb0",
        "\xd1\x80\xd0\xb5\xd0\xba\xd0\xbb\xd0\xb0\xd0\xbc\xd0\xb0",
        "\xd0\xa0\xd0\x95\xd0\x9a\xd0\x9b\xd0\x90\xd0\x9c\xd0\x90", "Anuncio", "loading",
        "\xe6\xad\xa3\xe5\x9c\xa8\xe5\x8a\xa0\xe8\xbd\xbd",
        "\xd0\x97\xd0\xb0\xd0\xb3\xd1\x80\xd1\x83\xd0\xb7\xd0\xba\xd0\xb0",
        "\xd0\xb7\xd0\xb0\xd0\xb3\xd1\x80\xd1\x83\xd0\xb7\xd0\xba\xd0\xb0", "chargement",
        "cargando", NULL };
    apr_size_t n = strlen(s), i;
    int yes = 0;

    /* the loading words may end with "…" or "..." */
    if (n > 3 && !strcmp(s + n - 3, "..."))
        n -= 3;
    else if (n > 3 && !strcmp(s + n - 3, "\xe2\x80\xa6"))
        n -= 3;
    for (i = 0; words[i] && !yes; ++i)
        yes = strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0;
    return yes;
}

/* Readability's _cleanConditionally. */
static void clean_conditionally(ctx_t *c, xmlNode *e, pk_tag_e tag)
{
    nodes_t l = { NULL, 0, 0 };
    apr_size_t i;

    if (c->flags & FLAG_CLEAN_CONDITIONALLY)
        l = by_tag(c->p, e, tag);
    for (i = l.n; i > 0; --i) {
        xmlNode *n = l.v[i - 1];
        meas_t m;
        int is_list = tag == PK_TAG_UL || tag == PK_TAG_OL, weight, remove = 0;
        if (!n->parent || !attached_under(n, e))
            continue;
        measure(c, n, &m);
        if (!is_list)
            is_list = m.len ? (double)m.list / (double)m.len > 0.9 : m.list > 0;
        if (tag == PK_TAG_TABLE && (nd_of(c, n)->flags & ND_DATATABLE))
            continue;
        if (has_ancestor_tag(n, PK_TAG_TABLE, -1, 1))
            continue;
        if (has_ancestor_tag(n, PK_TAG_CODE, 3, 0))
            continue;
        {
            xmlNode *d;
            int keep = 0;
            for (d = n->children; d && !keep; d = walk_next(n, d, 0))
                if (tag_of(d) == PK_TAG_TABLE && d->_private
                    && (((nd_t *)d->_private)->flags & ND_DATATABLE))
                    keep = 1;
            if (keep)
                continue;
        }
        if (has_social_embed(n))
            continue;
        weight = class_weight(c, n);
        if (weight < 0)
            remove = 1;
        else if (m.commas < 10) {
            double p = (double)m.n_p, img = (double)m.n_img;
            double li = (double)m.n_li - 100, input = (double)m.n_input;
            double heading_density = m.len ? (double)m.heading / (double)m.len : 0;
            double ld = m.len ? m.link_len / (double)m.len : 0;
            double text_density = m.len ? (double)m.textish / (double)m.len : 0;
            int embeds = 0, is_fig, keep_video = 0;
            xmlNode *d;
            for (d = n->children; d && !keep_video; d = walk_next(n, d, 0)) {
                pk_tag_e dt = tag_of(d);
                if (dt == PK_TAG_OBJECT || dt == PK_TAG_EMBED || dt == PK_TAG_IFRAME) {
                    if (is_video_embed(c, d))
                        keep_video = 1;
                    ++embeds;
                }
            }
            if (keep_video)
                continue;
            if (m.len <= 20 && is_ad_or_loading_word(inner_text(c->p, n))) {
                drop(c, n);
                continue;
            }
            is_fig = has_ancestor_tag(n, PK_TAG_FIGURE, 3, 0);
            if (!is_fig && img > 1 && p / img < 0.5)
                remove = 1;
            if (!is_list && li > p)
                remove = 1;
            if (input > floor(p / 3))
                remove = 1;
            if (!is_list && !is_fig && heading_density < 0.9 && m.len < 25
                && (img == 0 || img > 2) && ld > 0)
                remove = 1;
            if (!is_list && weight < 25 && ld > 0.2)
                remove = 1;
            if (weight >= 25 && ld > 0.5)
                remove = 1;
            if ((embeds == 1 && m.len < 75) || embeds > 1)
                remove = 1;
            if (img == 0 && text_density == 0)
                remove = 1;
            if (is_list && remove) {
                xmlNode *ch;
                int multi = 0;
                for (ch = first_el(n); ch && !multi; ch = next_el(ch))
                    if (el_count(ch) > 1)
                        multi = 1;
                if (!multi && (apr_size_t)img == count_tag(n, PK_TAG_LI))
                    remove = 0;
            }
        }
        if (remove)
            drop(c, n);
    }
}

static apr_size_t raw_text_chars(const xmlNode *root)
{
    const xmlNode *n;
    apr_size_t k = 0;

    for (n = root->children; n; n = walk_next(root, (xmlNode *)n, 0))
        if (is_text(n) && n->content)
            k += utf8_chars((const char *)n->content);
    return k;
}

static void prep_article(ctx_t *c, xmlNode *art)
{
    static const pk_tag_e h12[] = { PK_TAG_H1, PK_TAG_H2 };
    nodes_t l;
    xmlNode *top, *n, *end;
    apr_size_t i;

    mark_data_tables(c, art);
    fix_lazy_images(c, art);
    clean_conditionally(c, art, PK_TAG_FORM);
    clean_conditionally(c, art, PK_TAG_FIELDSET);
    clean_tag(c, art, PK_TAG_OBJECT);
    clean_tag(c, art, PK_TAG_EMBED);
    clean_tag(c, art, PK_TAG_FOOTER);
    clean_tag(c, art, PK_TAG_LINK);
    clean_tag(c, art, PK_TAG_ASIDE);
    /* share widgets under the top-level children */
    for (top = first_el(art); top; top = next_el(top)) {
        end = next_node(top, 1);
        n = next_node(top, 0);
        while (n && n != end) {
            if ((hints(c, n)->h_all & H_SHARE) && raw_text_chars(n) < 500)
                n = remove_and_next(c, n);
            else
                n = next_node(n, 0);
        }
    }
    clean_tag(c, art, PK_TAG_IFRAME);
    clean_tag(c, art, PK_TAG_INPUT);
    clean_tag(c, art, PK_TAG_TEXTAREA);
    clean_tag(c, art, PK_TAG_SELECT);
    clean_tag(c, art, PK_TAG_BUTTON);
    /* headers with a negative class weight */
    l = by_tags(c->p, art, h12, 2);
    for (i = l.n; i > 0; --i)
        if (l.v[i - 1]->parent && class_weight(c, l.v[i - 1]) < 0)
            drop(c, l.v[i - 1]);
    clean_conditionally(c, art, PK_TAG_TABLE);
    clean_conditionally(c, art, PK_TAG_UL);
    clean_conditionally(c, art, PK_TAG_DIV);
    l = by_tag(c->p, art, PK_TAG_H1);
    for (i = 0; i < l.n; ++i)
        set_tag(c, l.v[i], "h2");
    /* empty paragraphs */
    l = by_tag(c->p, art, PK_TAG_P);
    for (i = l.n; i > 0; --i) {
        xmlNode *pp = l.v[i - 1];
        if (!pp->parent)
            continue;
        if (!first_desc(pp, PK_TAG_IMG) && !first_desc(pp, PK_TAG_EMBED)
            && !first_desc(pp, PK_TAG_OBJECT) && !first_desc(pp, PK_TAG_IFRAME)
            && !has_text(pp))
            drop(c, pp);
    }
    l = by_tag(c->p, art, PK_TAG_BR);
    for (i = 0; i < l.n; ++i) {
        xmlNode *nx = next_nonws(l.v[i]->next);
        if (nx && tag_of(nx) == PK_TAG_P)
            drop(c, l.v[i]);
    }
    /* single-cell tables */
    l = by_tag(c->p, art, PK_TAG_TABLE);
    for (i = 0; i < l.n; ++i) {
        xmlNode *t = l.v[i], *tb, *row, *cell, *ch;
        int phrasing = 1;
        if (!t->parent)
            continue;
        tb = has_single_tag_inside(t, PK_TAG_TBODY) ? first_el(t) : t;
        if (!has_single_tag_inside(tb, PK_TAG_TR))
            continue;
        row = first_el(tb);
        if (!has_single_tag_inside(row, PK_TAG_TD))
            continue;
        cell = first_el(row);
        for (ch = cell->children; ch && phrasing; ch = ch->next)
            phrasing = is_phrasing(ch);
        set_tag(c, cell, phrasing ? "p" : "div");
        replace_node(c, t, cell, 0);
    }
}

/* ========================================================================= */
/* Refinement: boilerplate Readability keeps                                  */

static int is_block_tag(pk_tag_e t)
{
    int yes = 0;

    switch (t) {
    case PK_TAG_P: case PK_TAG_DIV: case PK_TAG_SECTION: case PK_TAG_ARTICLE:
    case PK_TAG_H1: case PK_TAG_H2: case PK_TAG_H3: case PK_TAG_H4: case PK_TAG_H5:
    case PK_TAG_H6: case PK_TAG_LI: case PK_TAG_UL: case PK_TAG_OL: case PK_TAG_DL:
    case PK_TAG_DD: case PK_TAG_DT: case PK_TAG_BLOCKQUOTE: case PK_TAG_PRE:
    case PK_TAG_TABLE: case PK_TAG_FIGURE: case PK_TAG_HEADER: case PK_TAG_FOOTER:
    case PK_TAG_ASIDE: case PK_TAG_NAV: case PK_TAG_FORM: case PK_TAG_MAIN:
        yes = 1;
        break;
    default:
        break;
    }
    return yes;
}

static int has_block_child(const xmlNode *n)
{
    const xmlNode *c;
    int yes = 0;

    for (c = n->children; c && !yes; c = c->next)
        yes = is_elem(c) && is_block_tag(tag_of(c));
    return yes;
}

/* Words of page furniture: a block that says only this is not article text. */
static int is_chrome_text(const char *t)
{
    static const char *const words[] = {
        "advertisement", "advert", "ad", "ads", "sponsored", "sponsored content",
        "skip to content", "skip to main content", "sign in", "log in", "login", "register",
        "subscribe", "subscribe now", "share", "share this", "share this article",
        "share this story", "tweet", "email", "print", "comments", "comment", "reply",
        "loading", "loading...", "continue reading", "continue reading below", "read more",
        "read next", "breaking news", "tags", "related", "related articles",
        "related stories", "related posts", "related content", "you may also like",
        "more stories", "recommended", "close", "caption", "menu", "search", "next",
        "previous", "next article", "previous article", "back to top", "cookies", "accept",
        "whatsapp", "facebook", "twitter", "pinterest", "linkedin", "copy link",
        "trending", "most popular", "most read", "latest", "popular", "newsletter",
        "sign up", "follow us", "advertise", "this slideshow requires javascript.",
        "don't miss", "see also", "more", "view comments", "show comments",
        "leave a comment", "post comment", "add comment", "top stories",
        /* the same in a few other languages */
        "leia também", "leia mais", "veja também", "publicidade", "leggi anche",
        "pubblicità", "lesen sie auch", "mehr zum thema", "anzeige", "werbung",
        "lire aussi", "à lire aussi", "publicité", "lea también", "ver también",
        "publicidad", "lees ook", "advertentie", "czytaj także", "reklama",
        "читайте также", "реклама", "关注我们", "广告", NULL };
    apr_size_t n = strlen(t), i;
    int yes = 0;

    while (n > 0 && (t[n - 1] == ':' || t[n - 1] == ' ' || t[n - 1] == '.'))
        --n;
    for (i = 0; n > 0 && words[i] && !yes; ++i)
        yes = strlen(words[i]) == n && strncasecmp(t, words[i], n) == 0;
    /* "Image 3 of 12" */
    if (!yes && (ieq_n(t, "image ", 6) || ieq_n(t, "photo ", 6) || ieq_n(t, "slide ", 6))) {
        const char *c = t + 6;
        while (*c >= '0' && *c <= '9')
            ++c;
        yes = c > t + 6 && ieq_n(c, " of ", 4);
    }
    return yes;
}

/* A photo credit on a line of its own: "(Image credit: X)", "Photo: X", "© X". */
static int is_credit_text(const char *t)
{
    static const char *const starts[] = {
        "(image", "(photo", "(credit", "(picture", "(foto", "image credit", "image copyright",
        "image caption", "media caption", "photo credit", "photograph:", "photo:", "photos:",
        "credit:", "credits:", "picture:", "foto:", "fotos:", "imagem:", "bild:", "source:",
        "illustration:", NULL };
    apr_size_t i, n = strlen(t);
    int yes = n <= 80 && (strstr(t, "\xc2\xa9") || strstr(t, "Getty Images")
                          || strstr(t, "Shutterstock"));

    for (i = 0; n <= 160 && !yes && starts[i]; ++i)
        yes = ieq_n(t, starts[i], strlen(starts[i]));
    return yes;
}

/* A bare URL. */
static int is_url_text(const char *t)
{
    return (ieq_n(t, "http://", 7) || ieq_n(t, "https://", 8) || ieq_n(t, "www."
                                                                           , 4))
           && !strchr(t, ' ');
}

/* Only a date, a time and the words that go with them ("Updated 9:41 AM, Nov 19,
 * 2019 | Posted ..."): nothing else is left once those are taken out. */
static int is_date_text(const char *t)
{
    static const char *const words[] = {
        "updated", "published", "posted", "last", "modified", "on", "at", "am", "pm",
        "a.m", "p.m", "est", "edt", "cst", "cdt", "pst", "pdt", "mst", "gmt", "utc", "bst",
        "cet", "cest", "ist", "first", "date", "time", "jan", "january", "feb", "february",
        "mar", "march", "apr", "april", "may", "jun", "june", "jul", "july", "aug",
        "august", "sep", "sept", "september", "oct", "october", "nov", "november", "dec",
        "december", "mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday", "thu",
        "thur", "thurs", "thursday", "fri", "friday", "sat", "saturday", "sun", "sunday",
        "ago", "day", "days", "hour", "hours", "minute", "minutes", "min", "mins", "st",
        "nd", "rd", "th", "of", NULL };
    const char *c = t;
    int digits = 0, words_seen = 0, other = 0;

    while (*c && !other) {
        if (is_alnum((unsigned char)*c)) {
            const char *st = c;
            apr_size_t n, i;
            int known = 0;
            while (is_alnum((unsigned char)*c) || *c == '.')
                ++c;
            n = (apr_size_t)(c - st);
            while (n > 0 && st[n - 1] == '.')
                --n;
            if (strspn(st, "0123456789") >= n) {
                ++digits;
                continue;
            }
            /* 19th, 2nd */
            if (st[0] >= '0' && st[0] <= '9') {
                apr_size_t dg = strspn(st, "0123456789");
                st += dg;
                n -= dg;
            }
            for (i = 0; words[i] && !known; ++i)
                known = strlen(words[i]) == n && ieq_n(st, words[i], n);
            other = !known;
            ++words_seen;
        }
        else if ((unsigned char)*c >= 0x80)
            other = 1; /* another script: do not guess */
        else
            ++c;
    }
    return !other && digits >= 2;
}

/* Take out what Readability leaves in: navigation, lists of links, blocks that are
 * all link (related stories, "read more" teasers), page furniture (dates, bylines,
 * share/newsletter/related boxes, "Advertisement"). */
static void refine(ctx_t *c, xmlNode *art)
{
    static const pk_tag_e lists[] = { PK_TAG_UL, PK_TAG_OL, PK_TAG_NAV };
    static const pk_tag_e blocks[] = { PK_TAG_P, PK_TAG_DIV, PK_TAG_LI, PK_TAG_H1, PK_TAG_H2,
                                       PK_TAG_H3, PK_TAG_H4, PK_TAG_H5, PK_TAG_H6,
                                       PK_TAG_DD, PK_TAG_DT, PK_TAG_SECTION };
    nodes_t l;
    apr_size_t i, total;
    xmlNode *n;

    /* a feed: besides the main <article> (the first one, not holding other articles,
     * with at least half the text of the longest such), shorter <article>s are teasers
     * of other pages or comments */
    l = by_tag(c->p, art, PK_TAG_ARTICLE);
    if (l.n >= 2) {
        xmlNode *best = NULL;
        apr_size_t best_len = 0, max_len = 0, *lens = apr_palloc(c->p, l.n * sizeof(*lens));
        for (i = 0; i < l.n; ++i) {
            lens[i] = first_desc(l.v[i], PK_TAG_ARTICLE) ? 0 : text_len(c, l.v[i]);
            if (lens[i] > max_len)
                max_len = lens[i];
        }
        for (i = 0; i < l.n && !best; ++i)
            if (lens[i] > 0 && lens[i] * 2 >= max_len) {
                best = l.v[i];
                best_len = lens[i];
            }
        for (i = l.n; i > 0 && best; --i) {
            n = l.v[i - 1];
            if (n != best && lens[i - 1] > 0 && lens[i - 1] < best_len && n->parent)
                drop(c, n);
        }
    }
    total = text_len(c, art);
    /* boxes whose class or id says what they are */
    for (n = art->children; n; ) {
        nd_t *d;
        if (!is_elem(n)) {
            n = walk_next(art, n, 0);
            continue;
        }
        d = hints(c, n);
        if ((d->h_all & (H_BOILER | H_DATE | H_BYLINE)) && is_block_tag(tag_of(n))
            && !has_social_embed(n)) {
            apr_size_t len = text_len(c, n);
            if (((d->h_all & H_BOILER) && len * 5 <= total)
                || ((d->h_all & (H_DATE | H_BYLINE)) && len < 150)) {
                xmlNode *next = walk_next(art, n, 1);
                drop(c, n);
                n = next;
                continue;
            }
        }
        n = walk_next(art, n, 0);
    }
    l = by_tags(c->p, art, lists, 3);
    for (i = l.n; i > 0; --i) {
        meas_t m;
        n = l.v[i - 1];
        if (!n->parent || !attached_under(n, art))
            continue;
        if (tag_of(n) == PK_TAG_NAV) {
            drop(c, n);
            continue;
        }
        measure(c, n, &m);
        if (m.len == 0)
            continue;
        if (m.n_li >= 2 && m.link_len / (double)m.len >= 0.6
            && (double)m.len / (double)m.n_li < 100 && m.link_int >= m.link_len * 0.5) {
            drop(c, n);
        }
    }
    l = by_tags(c->p, art, blocks, 12);
    for (i = l.n; i > 0; --i) {
        meas_t m;
        n = l.v[i - 1];
        if (!n->parent || !attached_under(n, art) || has_block_child(n))
            continue;
        measure(c, n, &m);
        if (m.len == 0)
            continue;
        if (m.len < 200 && m.link_len / (double)m.len >= 0.75 && m.link_int >= m.link_len * 0.5) {
            drop(c, n);
        }
        else if (m.len <= 160) {
            const char *t = inner_text(c->p, n);
            if ((m.len <= 80 && (is_chrome_text(t) || is_url_text(t) || is_date_text(t)))
                || is_credit_text(t)) {
                drop(c, n);
            }
        }
    }
}

/* Readability's _simplifyNestedElements. */
static void simplify_nested(ctx_t *c, xmlNode *art)
{
    xmlNode *n = art;

    while (n) {
        pk_tag_e t = tag_of(n);
        if (n->parent && (t == PK_TAG_DIV || t == PK_TAG_SECTION)) {
            if (is_element_without_content(n)) {
                n = remove_and_next(c, n);
                continue;
            }
            if (has_single_tag_inside(n, PK_TAG_DIV) || has_single_tag_inside(n, PK_TAG_SECTION)) {
                xmlNode *child = first_el(n);
                xmlAttr *a;
                for (a = n->properties; a; a = a->next)
                    set_attr(child, (const char *)a->name, attr_or_empty(n, (const char *)a->name));
                replace_node(c, n, child, 0);
                n = child;
                continue;
            }
        }
        n = next_node(n, 0);
    }
}

/* ========================================================================= */
/* Plain text                                                                 */

typedef enum { TX_INLINE, TX_BLOCK, TX_LINE, TX_CELL, TX_SKIP, TX_BR, TX_PRE } tx_kind_e;

static tx_kind_e text_kind(pk_tag_e t)
{
    tx_kind_e k = TX_INLINE;

    switch (t) {
    case PK_TAG_ADDRESS: case PK_TAG_ARTICLE: case PK_TAG_ASIDE: case PK_TAG_BLOCKQUOTE:
    case PK_TAG_BODY: case PK_TAG_CENTER: case PK_TAG_DETAILS: case PK_TAG_DIALOG:
    case PK_TAG_DIR: case PK_TAG_DIV: case PK_TAG_DL: case PK_TAG_FIELDSET:
    case PK_TAG_FIGCAPTION: case PK_TAG_FIGURE: case PK_TAG_FOOTER: case PK_TAG_FORM:
    case PK_TAG_H1: case PK_TAG_H2: case PK_TAG_H3: case PK_TAG_H4: case PK_TAG_H5:
    case PK_TAG_H6: case PK_TAG_HEADER: case PK_TAG_HGROUP: case PK_TAG_HR:
    case PK_TAG_HTML: case PK_TAG_LEGEND: case PK_TAG_MAIN: case PK_TAG_MENU:
    case PK_TAG_NAV: case PK_TAG_OL: case PK_TAG_P: case PK_TAG_SECTION:
    case PK_TAG_SUMMARY: case PK_TAG_TABLE: case PK_TAG_UL: case PK_TAG_SEARCH:
    case PK_TAG_TBODY: case PK_TAG_THEAD: case PK_TAG_TFOOT:
        k = TX_BLOCK;
        break;
    case PK_TAG_LI: case PK_TAG_DT: case PK_TAG_DD: case PK_TAG_TR: case PK_TAG_CAPTION:
        k = TX_LINE;
        break;
    case PK_TAG_TD: case PK_TAG_TH:
        k = TX_CELL;
        break;
    case PK_TAG_BR:
        k = TX_BR;
        break;
    case PK_TAG_PRE: case PK_TAG_LISTING: case PK_TAG_XMP: case PK_TAG_PLAINTEXT:
        k = TX_PRE;
        break;
    case PK_TAG_SCRIPT: case PK_TAG_STYLE: case PK_TAG_NOSCRIPT: case PK_TAG_TEMPLATE:
    case PK_TAG_HEAD: case PK_TAG_TITLE: case PK_TAG_SVG: case PK_TAG_MATH:
    case PK_TAG_CANVAS: case PK_TAG_IFRAME: case PK_TAG_OBJECT: case PK_TAG_EMBED:
    case PK_TAG_APPLET: case PK_TAG_SELECT: case PK_TAG_OPTION: case PK_TAG_OPTGROUP:
    case PK_TAG_BUTTON: case PK_TAG_INPUT: case PK_TAG_TEXTAREA: case PK_TAG_DATALIST:
    case PK_TAG_VIDEO: case PK_TAG_AUDIO: case PK_TAG_MAP: case PK_TAG_FRAMESET:
    case PK_TAG_NOFRAMES: case PK_TAG_NOEMBED: case PK_TAG_META: case PK_TAG_LINK:
    case PK_TAG_BASE: case PK_TAG_OUTPUT: case PK_TAG_PROGRESS: case PK_TAG_METER:
        k = TX_SKIP;
        break;
    default:
        break;
    }
    return k;
}

typedef struct {
    buf_t b;
    int pending;   /* line breaks due before the next text: 0, 1 or 2 */
    int space;     /* a space is due before the next text */
    int pre;       /* inside <pre> (depth) */
} text_t;

static void tx_break(text_t *t, int level)
{
    if (t->b.len > 0 && level > t->pending)
        t->pending = level;
    t->space = 0;
}

static void tx_flush(text_t *t)
{
    if (t->pending && t->b.len > 0)
        buf_add(&t->b, "\n\n", (apr_size_t)t->pending);
    else if (t->space && t->b.len > 0)
        buf_add(&t->b, " ", 1);
    t->pending = 0;
    t->space = 0;
}

static void tx_text(text_t *t, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    int w;

    if (t->pre) {
        if (t->b.len == 0 || t->pending)
            while (*s == '\n' || *s == '\r')
                ++s;
        if (*s) {
            tx_flush(t);
            buf_add(&t->b, s, strlen(s));
        }
    }
    else {
        while (*u) {
            const unsigned char *st;
            if ((w = ws_len(u)) > 0) {
                t->space = 1;
                u += w;
                continue;
            }
            st = u;
            while (*u && !ws_len(u))
                ++u;
            tx_flush(t);
            buf_add(&t->b, (const char *)st, (apr_size_t)(u - st));
        }
    }
}

/* The text of root's subtree: blocks separated by a blank line, list items and table
 * rows by a line break, <pre> kept as it is. */
static const char *to_text(ctx_t *c, apr_pool_t *p, xmlNode *root, apr_size_t *len)
{
    text_t t;
    xmlNode *n;

    memset(&t, 0, sizeof(t));
    t.b.p = p;
    n = root->children;
    while (n) {
        int descend = 0;
        if (is_text(n)) {
            if (n->content)
                tx_text(&t, (const char *)n->content);
        }
        else if (is_elem(n)) {
            tx_kind_e k = text_kind(tag_of(n));
            if (tag_of(n) == PK_TAG_FIGCAPTION || (hints(c, n)->h_all & H_CAPTION))
                k = TX_SKIP; /* captions and credits belong to the images */
            switch (k) {
            case TX_SKIP:
                break;
            case TX_BR:
                if (t.b.len > 0)
                    t.pending = t.pending >= 1 ? 2 : 1;
                t.space = 0;
                break;
            case TX_BLOCK:
                tx_break(&t, 2);
                descend = 1;
                break;
            case TX_LINE:
                tx_break(&t, 1);
                descend = 1;
                break;
            case TX_CELL:
                if (t.b.len > 0 && !t.pending)
                    t.space = 1;
                descend = 1;
                break;
            case TX_PRE:
                tx_break(&t, 2);
                ++t.pre;
                descend = 1;
                break;
            default:
                descend = 1;
                break;
            }
        }
        if (descend && n->children) {
            n = n->children;
            continue;
        }
        /* leaving n and maybe its ancestors */
        for (;;) {
            if (is_elem(n) && descend) {
                tx_kind_e k = text_kind(tag_of(n));
                if (k == TX_BLOCK || k == TX_PRE)
                    tx_break(&t, 2);
                else if (k == TX_LINE)
                    tx_break(&t, 1);
                if (k == TX_PRE && t.pre > 0)
                    --t.pre;
            }
            if (n->next) {
                n = n->next;
                break;
            }
            n = n->parent;
            descend = 1;
            if (!n || n == root) {
                n = NULL;
                break;
            }
        }
    }
    /* trim trailing whitespace */
    while (t.b.len > 0 && (t.b.data[t.b.len - 1] == ' ' || t.b.data[t.b.len - 1] == '\n'
                           || t.b.data[t.b.len - 1] == '\t' || t.b.data[t.b.len - 1] == '\r'))
        --t.b.len;
    return buf_done(&t.b, len);
}

/* ========================================================================= */
/* Words, dates, escaping                                                     */

/* Decode one UTF-8 character (input is valid UTF-8); returns its length. */
static int utf8_cp(const unsigned char *s, unsigned long *cp)
{
    int len = 1;

    *cp = 0xFFFD;
    if (s[0] < 0x80)
        *cp = s[0];
    else if ((s[0] & 0xE0) == 0xC0 && s[1]) {
        *cp = ((unsigned long)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        len = 2;
    }
    else if ((s[0] & 0xF0) == 0xE0 && s[1] && s[2]) {
        *cp = ((unsigned long)(s[0] & 0x0F) << 12) | ((unsigned long)(s[1] & 0x3F) << 6)
              | (s[2] & 0x3F);
        len = 3;
    }
    else if ((s[0] & 0xF8) == 0xF0 && s[1] && s[2] && s[3]) {
        *cp = ((unsigned long)(s[0] & 0x07) << 18) | ((unsigned long)(s[1] & 0x3F) << 12)
              | ((unsigned long)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        len = 4;
    }
    return len;
}

apr_size_t pk_extract_word_count(const char *text)
{
    const unsigned char *u = (const unsigned char *)text;
    apr_size_t words = 0;
    int in_word = 0;

    while (u && *u) {
        unsigned long cp;
        int l = utf8_cp(u, &cp);
        int cjk = (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF)
                  || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF)
                  || (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0x20000 && cp <= 0x2FA1F);
        int letter = !cjk && ((cp < 0x80 && is_alnum((int)cp))
                              || (cp >= 0xC0 && cp != 0xD7 && cp != 0xF7
                                  && !(cp >= 0x2000 && cp <= 0x2BFF)
                                  && !(cp >= 0x3000 && cp <= 0x303F)
                                  && !(cp >= 0xFE10 && cp <= 0xFE6F)
                                  && !(cp >= 0xFF00 && cp <= 0xFF0F)
                                  && !(cp >= 0xFF1A && cp <= 0xFF20)
                                  && !(cp >= 0xFFF0 && cp <= 0xFFFF)
                                  && !(cp >= 0x1F000 && cp <= 0x1FAFF)));
        if (cjk) {
            ++words;
            in_word = 0;
        }
        else if (letter) {
            if (!in_word)
                ++words;
            in_word = 1;
        }
        else if (!(cp == '\'' || cp == 0x2019) || !in_word)
            in_word = 0; /* an apostrophe inside a word keeps it one word */
        u += l;
    }
    return words;
}

int pk_extract_reading_minutes(apr_size_t words)
{
    return words == 0 ? 0 : (int)((words + 229) / 230);
}

const char *pk_extract_escape(apr_pool_t *p, const char *text)
{
    return pk_sanitize_escape(p, text);
}

static int digits(const char *s, int n, int *v)
{
    int i, ok = 1;

    *v = 0;
    for (i = 0; i < n && ok; ++i) {
        ok = s[i] >= '0' && s[i] <= '9';
        *v = *v * 10 + (s[i] - '0');
    }
    return ok;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    long era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long)doe - 719468;
}

static const char *format_utc(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;

    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", e.tm_year + 1900, e.tm_mon + 1,
                        e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec);
}

const char *pk_extract_iso8601(apr_pool_t *p, const char *in)
{
    const char *s = in ? trim_dup(p, in) : "", *r = NULL;
    int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, has_time = 0, has_off = 0, sign = 1;
    apr_size_t n = strlen(s);

    if (n >= 10 && digits(s, 4, &y) && (s[4] == '-' || s[4] == '/') && digits(s + 5, 2, &mo)
        && s[7] == s[4] && digits(s + 8, 2, &d)) {
        const char *c = s + 10;
        if ((*c == 'T' || *c == 't' || *c == ' ') && digits(c + 1, 2, &h) && c[3] == ':'
            && digits(c + 4, 2, &mi)) {
            has_time = 1;
            c += 6;
            if (*c == ':' && digits(c + 1, 2, &sec)) {
                c += 3;
                if (*c == '.' || *c == ',') {
                    ++c;
                    while (*c >= '0' && *c <= '9')
                        ++c;
                }
            }
            while (*c == ' ')
                ++c;
            if (*c == 'Z' || *c == 'z' || !strncmp(c, "UTC", 3) || !strncmp(c, "GMT", 3)) {
                has_off = 1;
                c += (*c == 'Z' || *c == 'z') ? 1 : 3;
            }
            else if ((*c == '+' || *c == '-') && digits(c + 1, 2, &oh)) {
                sign = *c == '-' ? -1 : 1;
                c += 3;
                if (*c == ':')
                    ++c;
                if (digits(c, 2, &om))
                    c += 2;
                has_off = 1;
            }
        }
        else if (*c == 'T' || *c == 't')
            c = ""; /* a date with an odd time: keep the date */
        while (*c == ' ')
            ++c;
        if (*c == '\0' && y >= 1000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 24
            && mi <= 59 && sec <= 60 && oh <= 23 && om <= 59) {
            if (!has_time)
                r = apr_psprintf(p, "%04d-%02d-%02d", y, mo, d);
            else if (!has_off)
                r = apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, sec);
            else {
                long days = days_from_civil(y, (unsigned)mo, (unsigned)d);
                apr_int64_t t = (apr_int64_t)days * 86400 + h * 3600 + mi * 60 + sec
                                - sign * (oh * 3600 + om * 60);
                r = format_utc(p, (apr_time_t)t * APR_USEC_PER_SEC);
            }
        }
    }
    else if (n >= 9 && n <= 13 && strspn(s, "0123456789") == n) {
        apr_int64_t v = apr_atoi64(s);
        if (n >= 12)
            v /= 1000;
        if (v > 0)
            r = format_utc(p, (apr_time_t)v * APR_USEC_PER_SEC);
    }
    else {
        apr_time_t t = apr_date_parse_rfc(s);
        if (t > 0)
            r = format_utc(p, t);
    }
    return r;
}

/* ========================================================================= */
/* Title cleanup                                                              */

/* Lower-case ASCII letters and digits of s (other ASCII dropped, non-ASCII kept). */
static char *norm_key(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *out = apr_palloc(p, n + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < n; ++i) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x80 || is_alnum(ch))
            *o++ = (char)ascii_lower(ch);
    }
    *o = '\0';
    return out;
}

/* Does the title part s[0..n) name the site: its site name or its host? */
static int names_site(apr_pool_t *p, const char *s, apr_size_t n, const char *site,
                      const char *url)
{
    const char *k = norm_key(p, s, n), *h = url ? strstr(url, "://") : NULL, *e, *dot;
    apr_size_t hl;
    int yes = *k && site && *site && !strcmp(k, norm_key(p, site, strlen(site)));

    if (*k && !yes && h) {
        h += 3;
        e = h + strcspn(h, "/:?#");
        if ((apr_size_t)(e - h) > 4 && ieq_n(h, "www.", 4))
            h += 4;
        hl = (apr_size_t)(e - h);
        dot = memchr(h, '.', hl);
        yes = !strcmp(k, norm_key(p, h, hl))                        /* "Example.com" */
              || (dot && !strcmp(k, norm_key(p, h, (apr_size_t)(dot - h)))); /* "Example" */
    }
    return yes;
}

/* Length of a title separator " | " etc. at s (0 if none). */
static int suffix_sep(const char *s)
{
    static const char *const seps[] = { " | ", " - ", " \xe2\x80\x93 ", " \xe2\x80\x94 ",
                                        " \xc2\xb7 ", " \xe2\x80\xa2 ", " \xc2\xbb ", " :: ",
                                        " : ", " // ", NULL };
    int i, len = 0;

    for (i = 0; seps[i] && !len; ++i)
        if (!strncmp(s, seps[i], strlen(seps[i])))
            len = (int)strlen(seps[i]);
    return len;
}

/* The title without a leading or trailing part that names the site. */
static const char *strip_site(apr_pool_t *p, const char *title, const char *site,
                              const char *url)
{
    apr_size_t n = strlen(title), i, first = (apr_size_t)-1, last = (apr_size_t)-1;
    int first_len = 0, last_len = 0, l;
    const char *r = title;

    for (i = 0; i < n; ++i)
        if ((l = suffix_sep(title + i)) > 0) {
            if (first == (apr_size_t)-1) {
                first = i;
                first_len = l;
            }
            last = i;
            last_len = l;
        }
    if (last != (apr_size_t)-1
        && names_site(p, title + last + last_len, n - last - (apr_size_t)last_len, site, url))
        r = apr_pstrmemdup(p, title, last);
    else if (first != (apr_size_t)-1 && names_site(p, title, first, site, url))
        r = title + first + first_len;
    return *r ? r : title;
}

/* ========================================================================= */
/* Entry point                                                                */

static xmlNode *find_body(xmlNode *root)
{
    xmlNode *n = root ? root->children : NULL;

    while (n && !(is_elem(n) && tag_of(n) == PK_TAG_BODY))
        n = n->next;
    return n;
}

static const char *find_base(ctx_t *c, const char *url)
{
    nodes_t l = collected(c, PK_TAG_BASE);
    const char *base = url;
    apr_size_t i;

    for (i = 0; i < l.n; ++i)
        if (attr(l.v[i], "href")) {
            const char *abs = pk_sanitize_resolve(c->p, url, attr(l.v[i], "href"));
            if (abs && (!strncmp(abs, "http://", 7) || !strncmp(abs, "https://", 8)))
                base = abs;
            break;
        }
    return base;
}

typedef struct {
    apr_pool_t *pool;
    doc_owner_t *owner;
    grab_t g;
    const char *lang;
    const char *dom_byline;
    int ok;
} attempt_t;

/* One run of Readability's algorithm on a fresh parse (its retries restore the page;
 * a fresh parse of the same bytes is the same thing). */
static int run_attempt(ctx_t *c, const char *buf, apr_size_t len, int first,
                       const char *url, metadata_t *md, const char **base, attempt_t *at)
{
    doc_owner_t *owner;
    xmlNode *root, *body;
    jsonld_t j;
    nodes_t fonts;
    apr_size_t i;

    memset(at, 0, sizeof(*at));
    owner = apr_pcalloc(c->p, sizeof(*owner));
    c->doc = parse_html(c, buf, len, owner);
    root = c->doc ? xmlDocGetRootElement(c->doc) : NULL;
    if (c->doc) {
        at->owner = owner;
        c->owner = owner;
        c->hint_cache = NULL;
    }
    if (root) {
        unwrap_noscript_images(c);
        if (first)
            read_jsonld(c, &j);
        remove_collected(c, PK_TAG_SCRIPT);
        remove_collected(c, PK_TAG_NOSCRIPT);
        body = find_body(root);
        if (body) {
            replace_brs(c, body);
            fonts = collected(c, PK_TAG_FONT);
            for (i = 0; i < fonts.n; ++i)
                set_tag(c, fonts.v[i], "span");
        }
        if (first) {
            get_metadata(c, &j, md);
            c->article_title = md->title;
            c->have_meta_byline = md->byline && *md->byline;
            *base = find_base(c, url);
            c->site = site_of(c->p, *base);
        }
        at->ok = grab_article(c, body ? body : root, &at->g);
        at->lang = c->article_lang;
    }
    return at->ok;
}

static const char *dir_of(const attempt_t *at)
{
    const xmlNode *cands[2];
    const xmlNode *n;
    const char *d = NULL;
    int i;

    cands[0] = at->g.top_parent;
    cands[1] = at->g.top;
    for (i = 0; i < 2 && !d; ++i)
        if (cands[i] && is_elem(cands[i]))
            d = attr(cands[i], "dir");
    for (n = at->g.top_parent ? at->g.top_parent->parent : NULL; n && !d && is_elem(n);
         n = n->parent)
        d = attr(n, "dir");
    return (d && *d) ? d : NULL;
}

/* pk_extract() once its arguments are checked: the article, or NULL when the page has
 * neither a title nor any text. */
static pk_article *extract_article(apr_pool_t *p, const char *html, apr_size_t len,
                                   const char *url, const pk_extract_opts *opts)
{
    apr_size_t max = (opts && opts->max_bytes) ? opts->max_bytes : PK_EXTRACT_MAX_BYTES;
    apr_size_t slen = 0, plen = 0;
    const char *src = html, *base = url, *excerpt;
    char *stripped;
    ctx_t c;
    metadata_t md;
    attempt_t best, at;
    int flags[4] = { FLAG_STRIP_UNLIKELYS | FLAG_WEIGHT_CLASSES | FLAG_CLEAN_CONDITIONALLY,
                     FLAG_WEIGHT_CLASSES | FLAG_CLEAN_CONDITIONALLY,
                     FLAG_CLEAN_CONDITIONALLY, 0 };
    int k, have_best = 0, best_flags = -1;
    apr_size_t best_len = 0;
    const char *byline_before = NULL, *best_byline = NULL;
    pk_article *a;
    pk_sanitize_opts so;
    apr_pool_t *scratch; /* the bytes and the trees: gone when this returns */

    apr_pool_create(&scratch, p);
    if (len > max) {
        /* cut at the last tag boundary before the cap */
        const char *gt = NULL;
        apr_size_t i;
        for (i = max; i > 0 && !gt; --i)
            if (html[i - 1] == '>')
                gt = html + i;
        len = gt ? (apr_size_t)(gt - html) : max;
    }
    /* valid UTF-8 without NULs for libxml2 */
    if (pk_utf8_valid_prefix(html, len) != len || memchr(html, '\0', len)) {
        if (pk_charset_to_utf8(scratch, html, len, "utf-8", &src, &slen, NULL) != APR_SUCCESS) {
            src = ""; /* cannot happen: html is not NULL */
            slen = 0;
        }
    }
    else
        slen = len;
    if (slen >= 3 && !memcmp(src, "\xEF\xBB\xBF", 3)) {
        src += 3;
        slen -= 3;
    }
    if (slen > 0x7ffffff0)
        slen = 0x7ffffff0;
    stripped = pk_sanitize_prestrip(scratch, src, slen, &plen);

    memset(&c, 0, sizeof(c));
    memset(&md, 0, sizeof(md));
    memset(&best, 0, sizeof(best));
    c.p = p;
    c.video_hosts = (opts && opts->video_hosts) ? opts->video_hosts
                                                : pk_sanitize_default_video_hosts;
    /* Readability's attempts: all flags, then fewer, until one finds 500 characters;
     * else the longest. Each attempt parses afresh in a subpool, destroyed unless it
     * is the result (so at most one tree is alive); a failed run that turns out the
     * longest is run again at the end rather than kept. */
    for (k = 0; k < 5 && !have_best; ++k) {
        apr_pool_t *ap;
        int f = k < 4 ? flags[k] : best_flags;
        if (k == 4 && best_flags < 0)
            break;
        if (apr_pool_create(&ap, scratch) != APR_SUCCESS)
            break;
        if (k == 4)
            c.dom_byline = best_byline; /* as it was before that attempt */
        else
            byline_before = c.dom_byline;
        c.p = ap;
        c.frames = NULL;
        c.chunk_left = c.tc_left = 0;
        c.flags = f;
        run_attempt(&c, stripped, plen, k == 0, url, &md, &base, &at);
        if (!at.owner) {
            apr_pool_destroy(ap);
            break; /* libxml2 could not even build a document */
        }
        at.pool = ap;
        if (k == 0) {
            /* what the first attempt read about the page outlives it */
            md.title = md.title ? apr_pstrdup(p, md.title) : NULL;
            md.byline = md.byline ? apr_pstrdup(p, md.byline) : NULL;
            md.excerpt = md.excerpt ? apr_pstrdup(p, md.excerpt) : NULL;
            md.site_name = md.site_name ? apr_pstrdup(p, md.site_name) : NULL;
            md.published = md.published ? apr_pstrdup(p, md.published) : NULL;
            md.image = md.image ? apr_pstrdup(p, md.image) : NULL;
            md.lang = md.lang ? apr_pstrdup(p, md.lang) : NULL;
            md.jsonld_body = NULL;
            base = base ? apr_pstrdup(p, base) : NULL;
            c.site = c.site ? apr_pstrdup(p, c.site) : NULL;
            c.article_title = md.title;
        }
        at.lang = at.lang ? apr_pstrdup(p, at.lang) : NULL;
        c.dom_byline = c.dom_byline ? apr_pstrdup(p, c.dom_byline) : NULL;
        if (at.ok && (at.g.text_len >= 500 || k == 4
                      || (k == 3 && at.g.text_len > best_len))) {
            best = at;
            have_best = 1;
            break;
        }
        if (at.ok && (best_flags < 0 || at.g.text_len > best_len)) {
            best_flags = f;
            best_len = at.g.text_len;
            best_byline = byline_before;
        }
        apr_pool_destroy(ap);
        if (k == 3 && best_len == 0)
            break; /* no attempt found any text: Readability gives up */
    }

    a = apr_pcalloc(p, sizeof(*a));
    a->url = base;
    a->title = md.title ? strip_site(p, squash(p, md.title), md.site_name, base) : "";
    a->site_name = md.site_name && *md.site_name ? md.site_name : NULL;
    a->published = pk_extract_iso8601(p, md.published);
    a->text = "";
    a->html = "";
    if (have_best && best.g.content) {
        xmlNode *art = best.g.content, *fp;
        c.owner = best.owner;
        c.doc = best.owner->doc;
        c.p = best.pool;
        /* Readability's excerpt: the first paragraph of what it extracted */
        if (!md.excerpt || !*md.excerpt) {
            fp = first_desc(art, PK_TAG_P);
            if (fp)
                md.excerpt = trim_dup(p, text_content(p, fp));
        }
        refine(&c, art);
        simplify_nested(&c, art);
        memset(&so, 0, sizeof(so));
        so.base_url = base;
        so.video_hosts = c.video_hosts;
        a->html = pk_sanitize_node(p, art, 0, &so, &a->html_len);
        a->text = to_text(&c, p, art, &a->text_len);
        a->dir = dir_of(&best);
        a->dir = a->dir ? apr_pstrdup(p, a->dir) : NULL;
        a->lang = best.lang;
        if (!md.byline || !*md.byline)
            md.byline = c.dom_byline;
        if (!md.image) {
            xmlNode *img = first_desc(art, PK_TAG_IMG);
            if (img)
                md.image = attr(img, "src");
        }
    }
    if (!a->lang || !*a->lang)
        a->lang = md.lang;
    a->byline = md.byline && *md.byline ? squash(p, md.byline) : NULL;
    excerpt = md.excerpt && *md.excerpt ? md.excerpt : NULL;
    a->excerpt = excerpt;
    if (md.image) {
        const char *u = pk_sanitize_resolve(p, base, md.image);
        if (u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)))
            a->lead_image = u;
    }
    a->word_count = pk_extract_word_count(a->text);
    a->reading_minutes = pk_extract_reading_minutes(a->word_count);
    apr_pool_destroy(scratch); /* everything the article needs was copied into p */
    return (*a->title || *a->text) ? a : NULL;
}

apr_status_t pk_extract(apr_pool_t *p, const char *html, apr_size_t len, const char *url,
                        const pk_extract_opts *opts, pk_article **out)
{
    apr_status_t rv = APR_EINVAL;

    if ((html || len == 0) && out) {
        *out = extract_article(p, html ? html : "", len, url, opts);
        rv = *out ? APR_SUCCESS : APR_ENOENT;
    }
    return rv;
}
