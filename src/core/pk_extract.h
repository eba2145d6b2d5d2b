/* pk_extract.h - the article in a web page: main content and metadata.
 *
 * pk_extract() takes a page as UTF-8 HTML (pk_charset_to_utf8() makes it so) and the
 * URL it came from, and returns the article: its metadata (from the page's structured
 * data first - JSON-LD schema.org Article, OpenGraph, <meta> - then from the document),
 * the main content found by general signals (text and link density, paragraph
 * structure, class/id hints, the scoring of Readability.js), as plain text and as
 * sanitised HTML (pk_sanitize_node()).
 *
 * Requirements: libxml2's parser initialised once per process by the caller
 * (xmlInitParser(), before threads run: libxml2 2.9 creates its dictionary's global
 * mutex on first use without a lock, and threads that race for it deadlock). Then every function is thread-safe (an
 * extraction thread pool calls pk_extract() concurrently), allocates from the caller's
 * pool only (what libxml2 allocates is freed before pk_extract() returns), and is
 * bounded on any input: tree walks are iterative, elements nested deeper than 240 are
 * flattened into their ancestor at that depth (their text is kept), and the input is
 * cut at opts->max_bytes.
 */
#ifndef PK_EXTRACT_H
#define PK_EXTRACT_H

#include <apr_pools.h>
#include <apr_errno.h>

/** Default cap on the HTML looked at (bytes). */
#define PK_EXTRACT_MAX_BYTES (16 * 1024 * 1024)

/** Options of pk_extract(); a zeroed struct or NULL means the defaults. */
typedef struct pk_extract_opts {
    /** Hosts whose iframes are kept in the HTML (NULL-terminated; a host matches
     *  itself and its subdomains): the PokettoVideoHosts directive. NULL means
     *  pk_sanitize_default_video_hosts (YouTube, Vimeo, Dailymotion...). */
    const char *const *video_hosts;
    /** Only the first max_bytes of the HTML are parsed (cut at a tag boundary);
     *  0 means PK_EXTRACT_MAX_BYTES. */
    apr_size_t max_bytes;
} pk_extract_opts;

/** An extracted article. Strings are UTF-8, from the pool given to pk_extract(), and
 *  NULL when the page does not tell (title, text and html are never NULL). */
typedef struct pk_article {
    const char *title;      /**< headline, without a " | Site name" suffix; "" if none */
    const char *byline;     /**< author(s), e.g. "Jane Doe, John Roe" */
    const char *published;  /**< ISO 8601: "2019-11-19T10:03:00Z", "2019-11-19T10:03:00+01:00"
                                 or "2019-11-19" */
    const char *site_name;  /**< e.g. "The Example Times" */
    const char *lang;       /**< BCP 47 tag, e.g. "en-US" */
    const char *dir;        /**< "ltr", "rtl" or "auto" */
    const char *excerpt;    /**< the page's description, or the first paragraph */
    const char *lead_image; /**< absolute http(s) URL */
    const char *url;        /**< the page URL after <base href>: what links resolve against */
    const char *text;       /**< plain text; paragraphs separated by a blank line */
    apr_size_t text_len;
    const char *html;       /**< sanitised HTML of the article (see pk_sanitize.h) */
    apr_size_t html_len;
    apr_size_t word_count;  /**< pk_extract_word_count(text) */
    int reading_minutes;    /**< pk_extract_reading_minutes(word_count) */
} pk_article;

/** Extract the article of a page.
 *  html: the page as UTF-8 (invalid sequences are replaced with U+FFFD, NULs dropped);
 *  len: its length in bytes; url: the absolute URL it was fetched from (may be NULL:
 *  relative links are then dropped); opts: NULL for the defaults.
 *  Returns APR_SUCCESS and *out (from p), whose text may be short or empty for a page
 *  without an article; APR_ENOENT (and *out NULL) when the page has neither a title nor
 *  any text (empty input, binary garbage, or libxml2 out of memory); APR_EINVAL for a
 *  NULL html (with len > 0) or out.
 *  Cost: one libxml2 parse of the page (after pk_sanitize_prestrip()), more only for
 *  pages where Readability's first pass finds under 500 characters (up to four passes,
 *  each in a subpool of p destroyed before the next); the tree is built in a subpool
 *  of p and destroyed before returning, so p keeps only the article's strings. */
apr_status_t pk_extract(apr_pool_t *p, const char *html, apr_size_t len, const char *url,
                        const pk_extract_opts *opts, pk_article **out);

/** Words in a text: runs of letters/digits separated by anything else, each CJK
 *  ideograph, kana or hangul syllable counting as a word. NULL counts 0. */
apr_size_t pk_extract_word_count(const char *text);

/** Reading time in minutes at 230 words a minute, rounded up; 0 for no words. */
int pk_extract_reading_minutes(apr_size_t words);

/** HTML-escape text (&, <, >, ") into p, e.g. to wrap a text/plain page in <pre>. */
const char *pk_extract_escape(apr_pool_t *p, const char *text);

/** Normalise a date/time as pages write it to ISO 8601 (from p): ISO 8601 forms
 *  ("2019-11-19", "2019-11-19T10:03", "2019-11-19 10:03:00.123+0100", "...Z"), RFC 822 /
 *  RFC 1123 ("Tue, 19 Nov 2019 10:03:00 GMT") and a bare Unix time in seconds or
 *  milliseconds. Times with an offset are given in UTC ("...Z"); without one, as local
 *  time without offset. NULL if s is not such a date (or NULL). */
const char *pk_extract_iso8601(apr_pool_t *p, const char *s);

#endif /* PK_EXTRACT_H */
