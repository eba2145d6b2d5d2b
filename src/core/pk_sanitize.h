/* pk_sanitize.h - allowlist serialisation of HTML, and the HTML helpers it needs.
 *
 * What readers get back from an extracted page is HTML written here from a libxml2
 * tree: only an allowlist of elements and attributes, no script, style, event
 * handler, form control, object/embed, or iframe (except embeds from an allowlist of
 * video hosts), every URL absolute and of a safe scheme. Used by pk_extract; usable on
 * its own for any HTML that reaches a reader.
 *
 * libxml2's parser must have been initialised once per process (xmlInitParser(), by the
 * caller, before threads run). Everything here is thread-safe and allocates from the
 * caller's pool.
 */
#ifndef PK_SANITIZE_H
#define PK_SANITIZE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <libxml/tree.h>

/** HTML element names known to the extractor and the sanitiser. */
typedef enum {
    PK_TAG_UNKNOWN = 0,
    PK_TAG_A, PK_TAG_ABBR, PK_TAG_ACRONYM, PK_TAG_ADDRESS, PK_TAG_APPLET, PK_TAG_AREA,
    PK_TAG_ARTICLE, PK_TAG_ASIDE, PK_TAG_AUDIO, PK_TAG_B, PK_TAG_BASE, PK_TAG_BASEFONT,
    PK_TAG_BDI, PK_TAG_BDO, PK_TAG_BIG, PK_TAG_BLINK, PK_TAG_BLOCKQUOTE, PK_TAG_BODY,
    PK_TAG_BR, PK_TAG_BUTTON, PK_TAG_CANVAS, PK_TAG_CAPTION, PK_TAG_CENTER, PK_TAG_CITE,
    PK_TAG_CODE, PK_TAG_COL, PK_TAG_COLGROUP, PK_TAG_DATA, PK_TAG_DATALIST, PK_TAG_DD,
    PK_TAG_DEL, PK_TAG_DETAILS, PK_TAG_DFN, PK_TAG_DIALOG, PK_TAG_DIR, PK_TAG_DIV,
    PK_TAG_DL, PK_TAG_DT, PK_TAG_EM, PK_TAG_EMBED, PK_TAG_FIELDSET, PK_TAG_FIGCAPTION,
    PK_TAG_FIGURE, PK_TAG_FONT, PK_TAG_FOOTER, PK_TAG_FORM, PK_TAG_FRAME, PK_TAG_FRAMESET,
    PK_TAG_H1, PK_TAG_H2, PK_TAG_H3, PK_TAG_H4, PK_TAG_H5, PK_TAG_H6, PK_TAG_HEAD,
    PK_TAG_HEADER, PK_TAG_HGROUP, PK_TAG_HR, PK_TAG_HTML, PK_TAG_I, PK_TAG_IFRAME,
    PK_TAG_IMG, PK_TAG_INPUT, PK_TAG_INS, PK_TAG_KBD, PK_TAG_LABEL, PK_TAG_LEGEND,
    PK_TAG_LI, PK_TAG_LINK, PK_TAG_LISTING, PK_TAG_MAIN, PK_TAG_MAP, PK_TAG_MARK,
    PK_TAG_MARQUEE, PK_TAG_MATH, PK_TAG_MENU, PK_TAG_META, PK_TAG_METER, PK_TAG_NAV,
    PK_TAG_NOBR, PK_TAG_NOEMBED, PK_TAG_NOFRAMES, PK_TAG_NOSCRIPT, PK_TAG_OBJECT,
    PK_TAG_OL, PK_TAG_OPTGROUP, PK_TAG_OPTION, PK_TAG_OUTPUT, PK_TAG_P, PK_TAG_PARAM,
    PK_TAG_PICTURE, PK_TAG_PLAINTEXT, PK_TAG_PRE, PK_TAG_PROGRESS, PK_TAG_Q, PK_TAG_RP,
    PK_TAG_RT, PK_TAG_RUBY, PK_TAG_S, PK_TAG_SAMP, PK_TAG_SCRIPT, PK_TAG_SEARCH,
    PK_TAG_SECTION, PK_TAG_SELECT, PK_TAG_SLOT, PK_TAG_SMALL, PK_TAG_SOURCE, PK_TAG_SPAN,
    PK_TAG_STRIKE, PK_TAG_STRONG, PK_TAG_STYLE, PK_TAG_SUB, PK_TAG_SUMMARY, PK_TAG_SUP,
    PK_TAG_SVG, PK_TAG_TABLE, PK_TAG_TBODY, PK_TAG_TD, PK_TAG_TEMPLATE, PK_TAG_TEXTAREA,
    PK_TAG_TFOOT, PK_TAG_TH, PK_TAG_THEAD, PK_TAG_TIME, PK_TAG_TITLE, PK_TAG_TR,
    PK_TAG_TRACK, PK_TAG_TT, PK_TAG_U, PK_TAG_UL, PK_TAG_VAR, PK_TAG_VIDEO, PK_TAG_WBR,
    PK_TAG_XMP,
    PK_TAG__COUNT
} pk_tag_e;

/** The tag of a lower-case element name (as libxml2's HTML parser stores them);
 *  PK_TAG_UNKNOWN for any other name or NULL. */
pk_tag_e pk_sanitize_tag(const char *name);

/** Resolve ref against the absolute URL base (RFC 3986 section 5, with the WHATWG
 *  URL parser's leniency: surrounding whitespace and embedded tabs/newlines are
 *  removed, '\' counts as '/' in http(s) URLs, spaces and control bytes are
 *  percent-encoded). Dot segments are removed. Returns an absolute URL (from p), or
 *  NULL if ref is NULL or neither ref nor base gives an absolute URL. A ref with a
 *  scheme is returned as it is (normalised), whatever the scheme: callers check it. */
const char *pk_sanitize_resolve(apr_pool_t *p, const char *base, const char *ref);

/** The default allowlist of video hosts whose iframes are kept (NULL-terminated):
 *  YouTube (and youtube-nocookie), Vimeo's player, Dailymotion, Twitch's player, the
 *  Internet Archive, Wikimedia Commons, TED, bilibili. */
extern const char *const pk_sanitize_default_video_hosts[];

/** Options of the serialisation; a zeroed struct (or NULL) means the defaults. */
typedef struct pk_sanitize_opts {
    /** URL that relative URLs are resolved against (the page URL after <base href>).
     *  NULL: relative URLs are dropped. */
    const char *base_url;
    /** Hosts whose https iframes are kept (NULL-terminated; a host matches itself and
     *  its subdomains). NULL means pk_sanitize_default_video_hosts; a list holding only
     *  NULL keeps no iframe. */
    const char *const *video_hosts;
} pk_sanitize_opts;

/** Serialise the children of node (or node itself when with_self) as sanitised HTML.
 *
 *  Elements: kept with their allowlisted attributes - a, abbr, article, aside, audio,
 *  b, bdi, bdo, blockquote, br, caption, cite, code, col, colgroup, dd, del, details,
 *  dfn, div, dl, dt, em, figcaption, figure, footer, h1-h6, header, hr, i, img, ins,
 *  kbd, li, mark, ol, p, picture, pre, q, rp, rt, ruby, s, samp, section, small,
 *  source, span, strong, sub, summary, sup, table, tbody, td, tfoot, th, thead, time,
 *  tr, track, u, ul, var, video, wbr, and iframe when its https src is on a video host;
 *  renamed - acronym->abbr, tt->code, strike->s, dir/menu->ul, listing/xmp/plaintext->
 *  pre, address/center/hgroup/main/nav/search->div; dropped with their content - script,
 *  style, noscript, template, head, title, meta, link, base, object, embed, applet,
 *  frame(set), noframes, noembed, svg, math, canvas, map, area, dialog, form controls
 *  (input, button, select, option, optgroup, textarea, datalist, output, progress,
 *  meter), other iframes, and comments/processing instructions; unwrapped (content
 *  kept, tag dropped) - every other element (form, fieldset, label, font, span without
 *  lang/dir, custom elements...).
 *  Attributes: lang, dir (ltr/rtl/auto), title on any kept element; href (a); src,
 *  srcset, sizes, alt, width, height (img); src, srcset, sizes, type, media (source);
 *  src, poster, controls, width, height (video); src, controls (audio); src, kind,
 *  srclang, label (track); src, width, height, allowfullscreen (iframe, which also gets
 *  a sandbox); colspan, rowspan, headers, scope (td, th); start, reversed, type (ol);
 *  value (li); datetime (time, del, ins); cite (blockquote, q, del, ins); span (col,
 *  colgroup); open (details); class tokens "language-*" / "lang-*" (pre, code).
 *  Nothing else: no id, class, style, on* handler.
 *  URLs are resolved against opts->base_url; a[href] keeps http, https and mailto
 *  URLs, src/srcset/poster/cite keep http and https (img src also small raster
 *  data:image/png|jpeg|gif|webp URLs); any other URL attribute is dropped.
 *  The walk is iterative: any depth is fine. Returns the HTML (from p, NUL-terminated);
 *  *len (may be NULL) gets its length. */
const char *pk_sanitize_node(apr_pool_t *p, const xmlNode *node, int with_self,
                             const pk_sanitize_opts *opts, apr_size_t *len);

/** Parse an HTML document or fragment (UTF-8) and return its body sanitised as
 *  pk_sanitize_node() does; a <base href> in it is honoured. *out (from p) and *out_len
 *  (may be NULL). APR_SUCCESS, APR_EINVAL for NULL html/out, APR_ENOMEM if libxml2
 *  cannot build a document. */
apr_status_t pk_sanitize_html(apr_pool_t *p, const char *html, apr_size_t len,
                              const pk_sanitize_opts *opts, const char **out,
                              apr_size_t *out_len);

/** Prepare HTML bytes for libxml2's HTML parser (one linear pass, into p): comments,
 *  <script> (except type ...ld+json), <style>, <svg> and <template> elements are
 *  dropped with their content; <title> and <textarea> are copied as raw text; the
 *  HTML5 void elements libxml2 2.9 parses as containers (embed, source, track, wbr,
 *  keygen), which would swallow everything after them, are written as empty
 *  ("<source ...>" becomes "<source .../>"). Attribute values may hold '>'. The
 *  result (NUL-terminated) is at most len + len/4 + 16 bytes; *out_len gets its
 *  length. */
char *pk_sanitize_prestrip(apr_pool_t *p, const char *html, apr_size_t len,
                           apr_size_t *out_len);

/** HTML-escape text (&, <, >, ") into p. NULL gives "". */
const char *pk_sanitize_escape(apr_pool_t *p, const char *text);

#endif /* PK_SANITIZE_H */
