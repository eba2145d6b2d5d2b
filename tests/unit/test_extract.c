/* test_extract.c - unit tests of pk_extract.c and pk_sanitize.c (TAP).
 *
 * Small hand-written pages pin the behaviours (titles, structured data, lazy images,
 * the sanitiser's allowlist, boilerplate); generated pathological inputs check that
 * extraction stays bounded. */

#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <libxml/parser.h>

#include "pk_extract.h"
#include "pk_sanitize.h"
#include "pk_test.h"

#define URL "https://news.example.com/2019/11/story.html"

/* Two long paragraphs: enough text for the scoring to find an article. */
#define BODY_P1 "<p>The committee met on Tuesday to discuss the proposal, which had been " \
    "debated for months, and agreed to publish its findings before the end of the " \
    "year, according to three people familiar with the matter.</p>"
#define BODY_P2 "<p>Members said the report would cover the costs, the schedule and the " \
    "risks of the project, and that it would include the views of residents, businesses " \
    "and the city council, which has asked for more time.</p>"
#define BODY_P3 "<p>A spokesperson declined to comment on the details, saying only that " \
    "the work was continuing, that the committee was grateful for the many submissions " \
    "it had received, and that a public meeting would follow.</p>"
#define ARTICLE BODY_P1 BODY_P2 BODY_P3

static pk_article *extract(apr_pool_t *p, const char *html, const char *url,
                           const pk_extract_opts *o)
{
    pk_article *a = NULL;

    if (pk_extract(p, html, strlen(html), url, o, &a) != APR_SUCCESS)
        return NULL;
    return a;
}

static int contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

/* Seconds since t0, divided by PK_TEST_TIME_FACTOR (set it to e.g. 50 under valgrind). */
static double seconds_since(apr_time_t t0)
{
    const char *f = getenv("PK_TEST_TIME_FACTOR");
    double factor = (f && atof(f) > 0) ? atof(f) : 1.0;

    return (double)(apr_time_now() - t0) / (double)APR_USEC_PER_SEC / factor;
}

static void test_titles(apr_pool_t *p)
{
    pk_article *a;

    a = extract(p, "<html><head><title>Council delays vote on the new bridge | Example "
                   "News</title><meta property='og:site_name' content='Example News'></head>"
                   "<body><article>" ARTICLE "</article></body></html>", URL, NULL);
    PK_TEST_OK(a != NULL, "title page: extracted");
    PK_TEST_STR(a ? a->title : NULL, "Council delays vote on the new bridge",
                "title: ' | Site name' suffix dropped when it is the site name");
    PK_TEST_STR(a ? a->site_name : NULL, "Example News", "site_name from og:site_name");

    a = extract(p, "<html><head><title>Council delays vote on the new bridge - "
                   "Example</title></head><body>" ARTICLE "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->title : NULL, "Council delays vote on the new bridge",
                "title: ' - Site' suffix dropped when it names the host");

    a = extract(p, "<html><head><meta property='og:title' content='Storms - rain and wind "
                   "hit the coast again'></head><body>" ARTICLE "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->title : NULL, "Storms - rain and wind hit the coast again",
                "title: a separator that is not a site suffix is kept");

    a = extract(p, "<html><head><title>Council delays vote on the new bridge | Example "
                   "News</title><meta property='og:title' content='Council delays bridge "
                   "vote'></head><body>" ARTICLE "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->title : NULL, "Council delays bridge vote", "title: og:title first");

    a = extract(p, "<html><head><title>Home</title></head><body><h1>Council delays vote on "
                   "the new bridge</h1>" ARTICLE "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->title : NULL, "Council delays vote on the new bridge",
                "title: a too-short <title> gives way to the only <h1>");
    PK_TEST_OK(a && !contains(a->text, "Council delays vote"),
               "the heading repeating the title is not in the text");

    a = extract(p, "<html><head><title>A &amp; B: caf&eacute; news</title></head><body>"
                   ARTICLE "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->title : NULL, "A & B: caf\xc3\xa9 news", "title: entities decoded");
}

static void test_jsonld(apr_pool_t *p)
{
    pk_article *a;

    a = extract(p,
        "<html lang='en-GB'><head><title>x</title>"
        "<script type='application/ld+json'>{\"@context\":\"https://schema.org\","
        "\"@type\":\"NewsArticle\",\"headline\":\"Bridge vote delayed\","
        "\"author\":[{\"@type\":\"Person\",\"name\":\"Jane Doe\"},"
        "{\"@type\":\"Person\",\"name\":\" John Roe \"}],"
        "\"publisher\":{\"@type\":\"Organization\",\"name\":\"The Example Times\"},"
        "\"datePublished\":\"2019-11-19T10:03:00-05:00\","
        "\"description\":\"The vote is put off again.\","
        "\"image\":{\"@type\":\"ImageObject\",\"url\":\"/img/lead.jpg\"}}</script>"
        "<meta name='author' content='Someone Else'></head><body>" ARTICLE "</body></html>",
        URL, NULL);
    PK_TEST_OK(a != NULL, "JSON-LD page: extracted");
    if (!a)
        return;
    PK_TEST_STR(a->title, "Bridge vote delayed", "JSON-LD headline is the title");
    PK_TEST_STR(a->byline, "Jane Doe, John Roe", "JSON-LD authors joined, trimmed, first");
    PK_TEST_STR(a->site_name, "The Example Times", "JSON-LD publisher is the site name");
    PK_TEST_STR(a->published, "2019-11-19T15:03:00Z", "datePublished in UTC");
    PK_TEST_STR(a->excerpt, "The vote is put off again.", "JSON-LD description is the excerpt");
    PK_TEST_STR(a->lead_image, "https://news.example.com/img/lead.jpg",
                "JSON-LD image made absolute");
    PK_TEST_STR(a->lang, "en-GB", "lang from <html lang>");

    a = extract(p,
        "<html><head><script type='application/ld+json'>{\"@context\":\"http://schema.org\","
        "\"@graph\":[{\"@type\":\"WebSite\",\"name\":\"Site\"},{\"@type\":\"BlogPosting\","
        "\"headline\":\"Graph headline\",\"author\":{\"name\":\"Ann Lee\"}}]}</script>"
        "<script type='application/ld+json'>not json</script></head><body>" ARTICLE
        "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->title : NULL, "Graph headline", "JSON-LD @graph article found");
    PK_TEST_STR(a ? a->byline : NULL, "Ann Lee", "JSON-LD single author object");

    a = extract(p,
        "<html><head><script type='application/ld+json'>{\"@context\":\"https://schema.org\","
        "\"@type\":\"Recipe\",\"name\":\"Soup\"}</script><title>Real title of the page "
        "here</title></head><body>" ARTICLE "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->title : NULL, "Real title of the page here",
                "JSON-LD of a non-article type is ignored");

    a = extract(p,
        "<html dir='rtl'><head><meta property='article:published_time' "
        "content='2019-11-19T08:00:00+02:00'><meta name='author' content='Sam Poe'>"
        "<meta property='og:description' content='Short summary.'></head><body>" ARTICLE
        "</body></html>", URL, NULL);
    PK_TEST_STR(a ? a->published : NULL, "2019-11-19T06:00:00Z", "article:published_time");
    PK_TEST_STR(a ? a->byline : NULL, "Sam Poe", "meta author");
    PK_TEST_STR(a ? a->excerpt : NULL, "Short summary.", "og:description");
    PK_TEST_STR(a ? a->dir : NULL, "rtl", "dir from an ancestor of the content");

    a = extract(p, "<html><body>" ARTICLE "</body></html>", URL, NULL);
    PK_TEST_OK(a && a->excerpt && !strncmp(a->excerpt, "The committee met on Tuesday", 28),
               "excerpt falls back to the first paragraph");
    PK_TEST_STR(a ? a->byline : "x", NULL, "no byline when the page has none");
    PK_TEST_STR(a ? a->published : "x", NULL, "no date when the page has none");
}

static void test_text(apr_pool_t *p)
{
    pk_article *a = extract(p, "<html><body><article><h2>Background</h2>" BODY_P1
                               "<ul><li>first point</li><li>second point</li></ul>" BODY_P2
                               "<pre>line 1\n  line 2</pre>" BODY_P3
                               "</article></body></html>", URL, NULL);

    PK_TEST_OK(a != NULL, "text page: extracted");
    if (!a)
        return;
    PK_TEST_OK(contains(a->text, "Background\n\nThe committee met"),
               "text: blocks separated by a blank line");
    PK_TEST_OK(contains(a->text, "first point\nsecond point"), "text: list items on lines");
    PK_TEST_OK(contains(a->text, "line 1\n  line 2"), "text: <pre> kept as it is");
    PK_TEST_OK(a->text_len == strlen(a->text), "text_len");
    PK_TEST_OK(a->word_count > 100 && a->word_count < 140, "word_count");
    PK_TEST_INT(a->reading_minutes, 1, "reading_minutes");
    PK_TEST_OK(contains(a->html, "<h2>Background</h2>") && contains(a->html, "<li>first point</li>")
               && contains(a->html, "<pre>line 1\n  line 2</pre>"),
               "html: headings, lists and code blocks kept");

    PK_TEST_INT(pk_extract_word_count("It's a well-known fact, isn't it?"), 7,
                "word count: apostrophes inside words, hyphens between");
    PK_TEST_INT(pk_extract_word_count("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e ok"), 4,
                "word count: each ideograph is a word");
    PK_TEST_INT(pk_extract_word_count(NULL), 0, "word count: NULL");
    PK_TEST_INT(pk_extract_reading_minutes(0), 0, "reading minutes: none");
    PK_TEST_INT(pk_extract_reading_minutes(231), 2, "reading minutes: rounded up");
    PK_TEST_STR(pk_extract_escape(p, "<a href=\"x\">&</a>"),
                "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;", "escape");
}

static void test_boilerplate(apr_pool_t *p)
{
    pk_article *a = extract(p,
        "<html><body><nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a>"
        "</li></ul></nav><div class='story-body'>" BODY_P1
        "<div class='share-tools'><a href='/share'>Share</a> <a href='/tweet'>Tweet</a></div>"
        "<p>Advertisement</p>" BODY_P2
        "<figure><img src='/a.jpg'><figcaption>Photo: Jane Doe / Agency</figcaption></figure>"
        "<blockquote class='twitter-tweet'><p>Quoted post about the plan.</p></blockquote>"
        BODY_P3 "<p><a href='/2019/other-story.html'>Read more: another story about "
        "the city</a></p><ul class='more'><li><a href='/a.html'>Related story one</a></li>"
        "<li><a href='/b.html'>Related story two</a></li><li><a href='/c.html'>Related "
        "story three</a></li></ul></div><footer>Copyright Example</footer></body></html>",
        URL, NULL);

    PK_TEST_OK(a != NULL, "boilerplate page: extracted");
    if (!a)
        return;
    PK_TEST_OK(contains(a->text, "The committee met") && contains(a->text, "A spokesperson"),
               "boilerplate: the paragraphs are kept");
    PK_TEST_OK(!contains(a->text, "Home"), "boilerplate: navigation dropped");
    PK_TEST_OK(!contains(a->text, "Tweet"), "boilerplate: share box dropped");
    PK_TEST_OK(!contains(a->text, "Advertisement"), "boilerplate: 'Advertisement' dropped");
    PK_TEST_OK(!contains(a->text, "Read more"), "boilerplate: 'read more' link dropped");
    PK_TEST_OK(!contains(a->text, "Related story"), "boilerplate: list of links dropped");
    PK_TEST_OK(!contains(a->text, "Copyright"), "boilerplate: footer dropped");
    PK_TEST_OK(!contains(a->text, "Photo: Jane"), "text: captions left to the images");
    PK_TEST_OK(contains(a->html, "<figcaption>Photo: Jane Doe / Agency</figcaption>"),
               "html: figure captions kept");
    PK_TEST_OK(contains(a->text, "Quoted post about the plan."),
               "embedded social posts are kept");
}

static void test_lazy_images(apr_pool_t *p)
{
    pk_article *a = extract(p,
        "<html><head><base href='https://cdn.example.net/base/'></head><body><article>"
        BODY_P1 "<img class='lazyload' src='data:image/gif;base64,R0lGODlhAQABAAAAACw=' "
        "data-src='photos/one.jpg' alt='one'>" BODY_P2
        "<img data-srcset='photos/two-1x.jpg 1x, photos/two-2x.jpg 2x' alt='two'>"
        "<img src='/placeholder.gif' alt='three'><noscript><img src='photos/three.jpg' "
        "alt='three'></noscript>" BODY_P3 "<p><a href='../other.html'>a relative link</a> in "
        "a paragraph with enough other words around it to stay.</p></article></body></html>",
        "https://www.example.com/page.html", NULL);

    PK_TEST_OK(a != NULL, "lazy images page: extracted");
    if (!a)
        return;
    PK_TEST_STR(a->url, "https://cdn.example.net/base/", "<base href> is the base URL");
    PK_TEST_OK(contains(a->html, "src=\"https://cdn.example.net/base/photos/one.jpg\""),
               "lazy image: data-src becomes an absolute src");
    PK_TEST_OK(!contains(a->html, "data:image/gif"), "lazy image: the placeholder is gone");
    PK_TEST_OK(contains(a->html, "srcset=\"https://cdn.example.net/base/photos/two-1x.jpg 1x, "
                                 "https://cdn.example.net/base/photos/two-2x.jpg 2x\""),
               "lazy image: data-srcset becomes an absolute srcset");
    PK_TEST_OK(contains(a->html, "https://cdn.example.net/base/photos/three.jpg")
               && !contains(a->html, "placeholder.gif"),
               "lazy image: the <noscript> image replaces the placeholder");
    PK_TEST_OK(contains(a->html, "href=\"https://cdn.example.net/other.html\""),
               "links resolved against <base href>");
}

static void test_sanitizer(apr_pool_t *p)
{
    static const char *const no_hosts[] = { NULL };
    static const char *const mine[] = { "videos.example.org", NULL };
    pk_sanitize_opts o;
    const char *out = NULL;
    apr_size_t len = 0;
    const char *in =
        "<div id='x' class='y' style='color:red' onclick='evil()'>"
        "<p onmouseover='evil()'>Hi <a href='javascript:alert(1)'>js</a> "
        "<a href='/rel?a=1&amp;b=2#f'>rel</a> <a href='mailto:a@b.c'>mail</a> "
        "<a href='data:text/html,x'>data</a></p>"
        "<script>alert(1)</script><style>p{}</style><noscript>ns</noscript>"
        "<form action='/post'><label>Name <input name='n'></label><button>Go</button>"
        "<select><option>o</option></select><textarea>t</textarea></form>"
        "<iframe src='https://www.youtube.com/embed/abc' width='560' height='315' "
        "onload='x()'></iframe><iframe src='https://evil.example.com/x'></iframe>"
        "<iframe src='https://videos.example.org/v/1'></iframe>"
        "<object data='x.swf'></object><embed src='y.swf'>"
        "<svg><circle/></svg><math><mi>x</mi></math>"
        "<figure><img src='i.png' srcset='i2.png 2x, javascript:x 3x' alt='A' "
        "width='10' height='abc' onerror='x()'><figcaption>Cap</figcaption></figure>"
        "<table><caption>T</caption><tr><th scope='col'>h</th><td colspan='2' "
        "style='x'>d</td></tr></table>"
        "<pre class='language-c foo'><code class='lang-c'>int x;</code></pre>"
        "<custom-el>custom text</custom-el><font color='red'>font</font>"
        "<ol start='3' reversed><li value='5'>five</li></ol>"
        "<img src='data:image/png;base64,iVBORw0KGgo='><img src='data:image/svg+xml,<svg/>'>"
        "<p lang='fr' dir='rtl' title='t'>fr</p><span dir='sideways'>s</span>"
        "<video src='v.mp4' poster='p.jpg' controls autoplay></video>"
        "</div>";

    memset(&o, 0, sizeof(o));
    o.base_url = "https://www.example.com/dir/page.html";
    PK_TEST_INT(pk_sanitize_html(p, in, strlen(in), &o, &out, &len), APR_SUCCESS,
                "sanitize: success");
    PK_TEST_OK(out && len == strlen(out), "sanitize: length");
    if (getenv("TEST_VERBOSE"))
        printf("# %s\n", out ? out : "(null)");
    if (!out)
        return;
    PK_TEST_OK(!contains(out, "onclick") && !contains(out, "onmouseover")
               && !contains(out, "onload") && !contains(out, "onerror"),
               "sanitize: no event handlers");
    PK_TEST_OK(!contains(out, "style") && !contains(out, "class=\"y\"") && !contains(out, "id="),
               "sanitize: no style, class or id");
    PK_TEST_OK(!contains(out, "alert") && !contains(out, "p{}") && !contains(out, ">ns<"),
               "sanitize: no script, style or noscript content");
    PK_TEST_OK(!contains(out, "javascript:"), "sanitize: no javascript: URL");
    PK_TEST_OK(contains(out, "<a>js</a>"), "sanitize: a javascript: link keeps its text");
    PK_TEST_OK(contains(out, "href=\"https://www.example.com/rel?a=1&amp;b=2#f\""),
               "sanitize: relative link made absolute");
    PK_TEST_OK(contains(out, "href=\"mailto:a@b.c\""), "sanitize: mailto kept");
    PK_TEST_OK(!contains(out, "data:text"), "sanitize: data: link dropped");
    PK_TEST_OK(!contains(out, "<form") && !contains(out, "<input") && !contains(out, "<button")
               && !contains(out, "<select") && !contains(out, "<textarea") && !contains(out, "Go"),
               "sanitize: no form controls");
    PK_TEST_OK(contains(out, "Name "), "sanitize: label text kept");
    PK_TEST_OK(contains(out, "<iframe src=\"https://www.youtube.com/embed/abc\" width=\"560\" "
                             "height=\"315\" sandbox="),
               "sanitize: a YouTube iframe is kept, sandboxed");
    PK_TEST_OK(!contains(out, "evil.example.com"), "sanitize: other iframes dropped");
    PK_TEST_OK(!contains(out, "videos.example.org"), "sanitize: default video hosts only");
    PK_TEST_OK(!contains(out, "<object") && !contains(out, "<embed") && !contains(out, "<svg")
               && !contains(out, "<math"), "sanitize: no object, embed, svg, math");
    PK_TEST_OK(contains(out, "<figure><img src=\"https://www.example.com/dir/i.png\" "
                             "srcset=\"https://www.example.com/dir/i2.png 2x\" alt=\"A\" "
                             "width=\"10\"><figcaption>Cap</figcaption></figure>"),
               "sanitize: figure, image attributes filtered and absolute");
    PK_TEST_OK(contains(out, "<table><caption>T</caption><tr><th scope=\"col\">h</th>"
                             "<td colspan=\"2\">d</td></tr></table>"),
               "sanitize: tables kept");
    PK_TEST_OK(contains(out, "<pre class=\"language-c\"><code class=\"lang-c\">int x;"
                             "</code></pre>"), "sanitize: code blocks keep language classes");
    PK_TEST_OK(contains(out, "custom text") && !contains(out, "custom-el")
               && contains(out, "font") && !contains(out, "<font"),
               "sanitize: unknown elements unwrapped");
    PK_TEST_OK(contains(out, "<ol start=\"3\" reversed><li value=\"5\">five</li></ol>"),
               "sanitize: list attributes");
    PK_TEST_OK(contains(out, "src=\"data:image/png;base64,iVBORw0KGgo=\"")
               && !contains(out, "svg+xml"), "sanitize: raster data: images only");
    PK_TEST_OK(contains(out, "<p lang=\"fr\" dir=\"rtl\" title=\"t\">fr</p>")
               && !contains(out, "sideways"), "sanitize: lang, dir, title");
    PK_TEST_OK(contains(out, "<video src=\"https://www.example.com/dir/v.mp4\" "
                             "poster=\"https://www.example.com/dir/p.jpg\" controls></video>"),
               "sanitize: video kept with its source and poster");

    o.video_hosts = no_hosts;
    pk_sanitize_html(p, in, strlen(in), &o, &out, NULL);
    PK_TEST_OK(out && !contains(out, "<iframe"), "sanitize: an empty host list keeps no iframe");
    o.video_hosts = mine;
    pk_sanitize_html(p, in, strlen(in), &o, &out, NULL);
    PK_TEST_OK(out && contains(out, "https://videos.example.org/v/1")
               && !contains(out, "youtube"), "sanitize: the configured hosts only");

    PK_TEST_STR(pk_sanitize_resolve(p, "http://a.example/b/c/d;p?q", "../g"),
                "http://a.example/b/g", "resolve: ../");
    PK_TEST_STR(pk_sanitize_resolve(p, "http://a.example/b/c/d;p?q", "//other.example/x"),
                "http://other.example/x", "resolve: protocol-relative");
    PK_TEST_STR(pk_sanitize_resolve(p, "http://a.example/b/c/d;p?q", "?y"),
                "http://a.example/b/c/d;p?y", "resolve: query only");
    PK_TEST_STR(pk_sanitize_resolve(p, "http://a.example/b/c/d;p?q", "#s"),
                "http://a.example/b/c/d;p?q#s", "resolve: fragment only");
    PK_TEST_STR(pk_sanitize_resolve(p, "http://a.example/b/c/d;p?q", " g h\t"),
                "http://a.example/b/c/g%20h", "resolve: whitespace trimmed and encoded");
    PK_TEST_STR(pk_sanitize_resolve(p, "https://A.Example", "\\x\\y"),
                "https://a.example/x/y", "resolve: backslashes, host lower-cased");
    PK_TEST_STR(pk_sanitize_resolve(p, NULL, "g"), NULL, "resolve: no base, relative");
    PK_TEST_STR(pk_sanitize_resolve(p, NULL, "HTTPS://x.example/a/./b/../c"),
                "https://x.example/a/c", "resolve: absolute, dots removed");
    PK_TEST_INT(pk_sanitize_tag("blockquote"), PK_TAG_BLOCKQUOTE, "tag lookup");
    PK_TEST_INT(pk_sanitize_tag("my-element"), PK_TAG_UNKNOWN, "tag lookup: unknown");
}

static void test_dates(apr_pool_t *p)
{
    PK_TEST_STR(pk_extract_iso8601(p, "2019-11-19"), "2019-11-19", "date only");
    PK_TEST_STR(pk_extract_iso8601(p, "2019-11-19T10:03"), "2019-11-19T10:03:00",
                "local time kept without offset");
    PK_TEST_STR(pk_extract_iso8601(p, " 2019-11-19 10:03:00.123+0100 "),
                "2019-11-19T09:03:00Z", "offset without colon, fraction");
    PK_TEST_STR(pk_extract_iso8601(p, "2019-12-31T23:30:00-01:00"), "2020-01-01T00:30:00Z",
                "offset crossing the year");
    PK_TEST_STR(pk_extract_iso8601(p, "Tue, 19 Nov 2019 10:03:00 GMT"), "2019-11-19T10:03:00Z",
                "RFC 1123");
    PK_TEST_STR(pk_extract_iso8601(p, "1574157780"), "2019-11-19T10:03:00Z", "Unix seconds");
    PK_TEST_STR(pk_extract_iso8601(p, "1574157780000"), "2019-11-19T10:03:00Z",
                "Unix milliseconds");
    PK_TEST_STR(pk_extract_iso8601(p, "yesterday"), NULL, "not a date");
    PK_TEST_STR(pk_extract_iso8601(p, "2019-13-45"), NULL, "impossible date");
    PK_TEST_STR(pk_extract_iso8601(p, NULL), NULL, "NULL date");
}

/* ---- pathological inputs: bounded time, no crash ---- */

static void test_pathological(apr_pool_t *p)
{
    apr_size_t n, i, len;
    char *buf;
    apr_time_t t0;
    pk_article *a;
    apr_status_t rv;

    /* 50 MB of nested <div> (flattened past depth 240; the input is cut at 16 MiB) */
    n = 50 * 1000 * 1000 / 5;
    buf = malloc(n * 5 + 64);
    if (buf) {
        len = 0;
        memcpy(buf, "<html><body>", 12);
        len = 12;
        for (i = 0; i < n; ++i) {
            memcpy(buf + len, "<div>", 5);
            len += 5;
        }
        memcpy(buf + len, "text", 4);
        len += 4;
        t0 = apr_time_now();
        a = NULL;
        rv = pk_extract(p, buf, len, URL, NULL, &a);
        PK_TEST_OK(rv == APR_SUCCESS || rv == APR_ENOENT, "50 MB of nested <div>: no error");
        PK_TEST_OK(seconds_since(t0) < 10, "50 MB of nested <div>: bounded time");
        free(buf);
    }

    /* 1000 nested <div>s, then the article's text: deeper than libxml2's limit (256),
     * where it used to stop the parse and lose the text */
    buf = malloc(1000 * 11 + 4096);
    if (buf) {
        len = (apr_size_t)sprintf(buf, "<html><head><title>Deep Page</title></head><body>");
        for (i = 0; i < 1000; ++i)
            len += (apr_size_t)sprintf(buf + len, "<div>");
        len += (apr_size_t)sprintf(buf + len, "<p>Deep words at the bottom of the nesting, "
                                              "which a reader should still see in full.</p>");
        for (i = 0; i < 1000; ++i)
            len += (apr_size_t)sprintf(buf + len, "</div>");
        len += (apr_size_t)sprintf(buf + len, "<p>After the nesting: the closing paragraph "
                                              "of the page, also kept.</p></body></html>");
        a = NULL;
        rv = pk_extract(p, buf, len, URL, NULL, &a);
        PK_TEST_OK(rv == APR_SUCCESS && a, "1000 nested <div>: extracted");
        PK_TEST_OK(a && strstr(a->text, "Deep words at the bottom of the nesting") != NULL,
                   "1000 nested <div>: the text below depth 256 is kept");
        PK_TEST_OK(a && strstr(a->text, "After the nesting: the closing paragraph") != NULL,
                   "1000 nested <div>: the text after the nesting is kept");
        PK_TEST_STR(a ? a->title : NULL, "Deep Page", "1000 nested <div>: title");
        free(buf);
    }

    /* 100 000 links */
    n = 100000;
    buf = malloc(n * 64 + 256);
    if (buf) {
        len = (apr_size_t)sprintf(buf, "<html><body><p>%s</p><ul>", "Links of a directory page.");
        for (i = 0; i < n; ++i)
            len += (apr_size_t)sprintf(buf + len, "<li><a href='/p%lu'>page %lu</a></li>",
                                       (unsigned long)i, (unsigned long)i);
        len += (apr_size_t)sprintf(buf + len, "</ul></body></html>");
        t0 = apr_time_now();
        a = NULL;
        rv = pk_extract(p, buf, len, URL, NULL, &a);
        PK_TEST_OK(rv == APR_SUCCESS && a, "100k links: extracted");
        PK_TEST_OK(seconds_since(t0) < 10, "100k links: bounded time");
        free(buf);
    }

    /* no <body> */
    a = extract(p, "<html><head><title>Only a head</title><meta name='description' "
                   "content='Nothing else.'></head></html>", URL, NULL);
    PK_TEST_OK(a != NULL, "no <body>: extracted");
    PK_TEST_STR(a ? a->title : NULL, "Only a head", "no <body>: title");
    PK_TEST_STR(a ? a->text : NULL, "", "no <body>: empty text");
    a = extract(p, "Just some words, no markup at all, in a file that is plain text.", URL,
                NULL);
    PK_TEST_OK(a && contains(a->text, "no markup at all"), "no markup: the text is kept");

    /* binary garbage, NULs and invalid UTF-8 included */
    n = 1 << 20;
    buf = malloc(n);
    if (buf) {
        unsigned int seed = 12345;
        for (i = 0; i < n; ++i) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (char)(seed >> 16);
        }
        t0 = apr_time_now();
        a = NULL;
        rv = pk_extract(p, buf, n, URL, NULL, &a);
        PK_TEST_OK(rv == APR_SUCCESS || rv == APR_ENOENT, "binary garbage: no error");
        PK_TEST_OK(seconds_since(t0) < 5, "binary garbage: bounded time");
        PK_TEST_OK(!a || (a->html && a->text), "binary garbage: strings set");
        free(buf);
    }

    /* UTF-8 with invalid sequences */
    {
        static const char bad[] = "<html><body><p>caf\xc3\xa9 \xc0\x80 \xed\xa0\x80 \xff "
                                  "trunc\xe2\x82</p>" ARTICLE "</body></html>";
        a = NULL;
        rv = pk_extract(p, bad, sizeof(bad) - 1, URL, NULL, &a);
        PK_TEST_OK(rv == APR_SUCCESS && a, "invalid UTF-8: extracted");
        PK_TEST_OK(a && contains(a->text, "caf\xc3\xa9") && contains(a->text, "\xef\xbf\xbd"),
                   "invalid UTF-8: replaced with U+FFFD");
        PK_TEST_OK(a && !contains(a->text, "\xff"), "invalid UTF-8: no invalid byte left");
    }

    /* one giant <pre> */
    n = 5 * 1000 * 1000;
    buf = malloc(n + 64);
    if (buf) {
        len = (apr_size_t)sprintf(buf, "<html><body><pre>");
        while (len < n) {
            memcpy(buf + len, "int main(void) { return 0; }\n", 30);
            len += 30;
        }
        len += (apr_size_t)sprintf(buf + len, "</pre></body></html>");
        t0 = apr_time_now();
        a = NULL;
        rv = pk_extract(p, buf, len, URL, NULL, &a);
        PK_TEST_OK(rv == APR_SUCCESS && a, "giant <pre>: extracted");
        PK_TEST_OK(a && a->text_len > 4000000, "giant <pre>: all the text");
        PK_TEST_OK(a && contains(a->html, "<pre>int main"), "giant <pre>: kept as <pre>");
        PK_TEST_OK(seconds_since(t0) < 10, "giant <pre>: bounded time");
        free(buf);
    }

    /* empty and NULL input */
    a = (pk_article *)1;
    PK_TEST_INT(pk_extract(p, "", 0, URL, NULL, &a), APR_ENOENT, "empty input: APR_ENOENT");
    PK_TEST_OK(a == NULL, "empty input: no article");
    PK_TEST_INT(pk_extract(p, NULL, 3, URL, NULL, &a), APR_EINVAL, "NULL input: APR_EINVAL");
    PK_TEST_INT(pk_extract(p, "<p>x</p>", 8, URL, NULL, NULL), APR_EINVAL,
                "NULL out: APR_EINVAL");

    /* a small cap cuts the input at a tag boundary */
    {
        pk_extract_opts o;
        memset(&o, 0, sizeof(o));
        o.max_bytes = 300;
        a = extract(p, "<html><body>" ARTICLE "<p>after the cap</p></body></html>", URL, &o);
        PK_TEST_OK(a && !contains(a->text, "after the cap"), "max_bytes cuts the input");
    }
}

/* ---- threads: extraction runs concurrently in the engine's pool ---- */

#define THREAD_PAGE "<html lang='en'><head><title>Threads | Example</title><script " \
    "type='application/ld+json'>{\"@context\":\"https://schema.org\",\"@type\":" \
    "\"Article\",\"author\":{\"name\":\"T. Hread\"}}</script></head><body><nav>" \
    "<a href='/'>Home</a></nav><article>" ARTICLE "<img data-src='/x.jpg'></article></body></html>"

typedef struct {
    const char *expected_text, *expected_html;
    int mismatches;
} thread_job_t;

static void *APR_THREAD_FUNC thread_main(apr_thread_t *t, void *data)
{
    thread_job_t *job = data;
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < 200; ++i) {
        pk_article *a = extract(p, THREAD_PAGE, URL, NULL);
        if (!a || strcmp(a->text, job->expected_text) || strcmp(a->html, job->expected_html))
            ++job->mismatches;
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void test_threads(apr_pool_t *p)
{
    apr_thread_t *th[4];
    thread_job_t jobs[4];
    pk_article *ref = extract(p, THREAD_PAGE, URL, NULL);
    apr_status_t rv;
    int i, started = 0, bad = 0;

    PK_TEST_OK(ref != NULL, "threads: reference extraction");
    if (!ref)
        return;
    for (i = 0; i < 4; ++i) {
        jobs[i].expected_text = ref->text;
        jobs[i].expected_html = ref->html;
        jobs[i].mismatches = 0;
        if (apr_thread_create(&th[i], NULL, thread_main, &jobs[i], p) == APR_SUCCESS)
            ++started;
    }
    for (i = 0; i < started; ++i) {
        apr_thread_join(&rv, th[i]);
        bad += jobs[i].mismatches;
    }
    PK_TEST_INT(started, 4, "threads: 4 started");
    PK_TEST_INT(bad, 0, "threads: 4 x 200 concurrent extractions give the same result");
}

int main(void)
{
    apr_pool_t *p;
    int rc;

    apr_app_initialize(NULL, NULL, NULL);
    xmlInitParser();
    apr_pool_create(&p, NULL);

    test_titles(p);
    test_jsonld(p);
    test_text(p);
    test_boilerplate(p);
    test_lazy_images(p);
    test_sanitizer(p);
    test_dates(p);
    test_threads(p);
    test_pathological(p);

    rc = PK_TEST_DONE();
    apr_pool_destroy(p);
    xmlCleanupParser();
    apr_terminate();
    return rc;
}
