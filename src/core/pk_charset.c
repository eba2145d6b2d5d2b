/* pk_charset.c - decode fetched HTML bytes to UTF-8 (see pk_charset.h). */

#include <stdint.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_xlate.h>

#include "pk_charset.h"
#include "pk_utf8.h"

/* ------------------------------------------------------------------------- */
/* Encodings and their labels (WHATWG Encoding Standard, "Names and labels").  */

typedef struct {
    const char *name;  /* canonical name reported in charset_used */
    const char *iconv; /* name given to apr_xlate_open (glibc iconv); NULL: UTF-8 */
    int single_byte;   /* a single-byte legacy encoding (see the UTF-8 override) */
} enc_t;

enum {
    E_UTF8, E_IBM866, E_8859_2, E_8859_3, E_8859_4, E_8859_5, E_8859_6, E_8859_7,
    E_8859_8, E_8859_8I, E_8859_10, E_8859_13, E_8859_14, E_8859_15, E_8859_16,
    E_KOI8R, E_KOI8U, E_MAC, E_W874, E_W1250, E_W1251, E_W1252, E_W1253, E_W1254,
    E_W1255, E_W1256, E_W1257, E_W1258, E_MACCYR, E_GBK, E_GB18030, E_BIG5, E_EUCJP,
    E_2022JP, E_SJIS, E_EUCKR, E_UTF16BE, E_UTF16LE, E_REPLACEMENT
};

static const enc_t encodings[] = {
    [E_UTF8] = { "UTF-8", NULL, 0 },
    [E_IBM866] = { "IBM866", "CP866", 1 },
    [E_8859_2] = { "ISO-8859-2", "ISO-8859-2", 1 },
    [E_8859_3] = { "ISO-8859-3", "ISO-8859-3", 1 },
    [E_8859_4] = { "ISO-8859-4", "ISO-8859-4", 1 },
    [E_8859_5] = { "ISO-8859-5", "ISO-8859-5", 1 },
    [E_8859_6] = { "ISO-8859-6", "ISO-8859-6", 1 },
    [E_8859_7] = { "ISO-8859-7", "ISO-8859-7", 1 },
    [E_8859_8] = { "ISO-8859-8", "ISO-8859-8", 1 },
    [E_8859_8I] = { "ISO-8859-8-I", "ISO-8859-8", 1 },
    [E_8859_10] = { "ISO-8859-10", "ISO-8859-10", 1 },
    [E_8859_13] = { "ISO-8859-13", "ISO-8859-13", 1 },
    [E_8859_14] = { "ISO-8859-14", "ISO-8859-14", 1 },
    [E_8859_15] = { "ISO-8859-15", "ISO-8859-15", 1 },
    [E_8859_16] = { "ISO-8859-16", "ISO-8859-16", 1 },
    [E_KOI8R] = { "KOI8-R", "KOI8-R", 1 },
    [E_KOI8U] = { "KOI8-U", "KOI8-U", 1 },
    [E_MAC] = { "macintosh", "MACINTOSH", 1 },
    [E_W874] = { "windows-874", "CP874", 1 },
    [E_W1250] = { "windows-1250", "CP1250", 1 },
    [E_W1251] = { "windows-1251", "CP1251", 1 },
    [E_W1252] = { "windows-1252", "CP1252", 1 },
    [E_W1253] = { "windows-1253", "CP1253", 1 },
    [E_W1254] = { "windows-1254", "CP1254", 1 },
    [E_W1255] = { "windows-1255", "CP1255", 1 },
    [E_W1256] = { "windows-1256", "CP1256", 1 },
    [E_W1257] = { "windows-1257", "CP1257", 1 },
    [E_W1258] = { "windows-1258", "CP1258", 1 },
    [E_MACCYR] = { "x-mac-cyrillic", "MAC-CYRILLIC", 1 },
    [E_GBK] = { "GBK", "GB18030", 0 },          /* WHATWG decodes GBK as gb18030 */
    [E_GB18030] = { "gb18030", "GB18030", 0 },
    [E_BIG5] = { "Big5", "BIG5-HKSCS", 0 },      /* WHATWG Big5 includes HKSCS */
    [E_EUCJP] = { "EUC-JP", "EUC-JP", 0 },
    [E_2022JP] = { "ISO-2022-JP", "ISO-2022-JP", 0 },
    [E_SJIS] = { "Shift_JIS", "CP932", 0 },     /* browsers decode windows-31j */
    [E_EUCKR] = { "EUC-KR", "CP949", 0 },       /* browsers decode windows-949 */
    [E_UTF16BE] = { "UTF-16BE", "UTF-16BE", 0 },
    [E_UTF16LE] = { "UTF-16LE", "UTF-16LE", 0 },
    [E_REPLACEMENT] = { "replacement", NULL, 0 }, /* never decodable */
};

typedef struct {
    const char *label;
    int enc;
} label_t;

static const label_t labels[] = {
    { "unicode-1-1-utf-8", E_UTF8 }, { "unicode11utf8", E_UTF8 },
    { "unicode20utf8", E_UTF8 }, { "utf-8", E_UTF8 }, { "utf8", E_UTF8 },
    { "x-unicode20utf8", E_UTF8 },
    { "866", E_IBM866 }, { "cp866", E_IBM866 }, { "csibm866", E_IBM866 },
    { "ibm866", E_IBM866 },
    { "csisolatin2", E_8859_2 }, { "iso-8859-2", E_8859_2 }, { "iso-ir-101", E_8859_2 },
    { "iso8859-2", E_8859_2 }, { "iso88592", E_8859_2 }, { "iso_8859-2", E_8859_2 },
    { "iso_8859-2:1987", E_8859_2 }, { "l2", E_8859_2 }, { "latin2", E_8859_2 },
    { "csisolatin3", E_8859_3 }, { "iso-8859-3", E_8859_3 }, { "iso-ir-109", E_8859_3 },
    { "iso8859-3", E_8859_3 }, { "iso88593", E_8859_3 }, { "iso_8859-3", E_8859_3 },
    { "iso_8859-3:1988", E_8859_3 }, { "l3", E_8859_3 }, { "latin3", E_8859_3 },
    { "csisolatin4", E_8859_4 }, { "iso-8859-4", E_8859_4 }, { "iso-ir-110", E_8859_4 },
    { "iso8859-4", E_8859_4 }, { "iso88594", E_8859_4 }, { "iso_8859-4", E_8859_4 },
    { "iso_8859-4:1988", E_8859_4 }, { "l4", E_8859_4 }, { "latin4", E_8859_4 },
    { "csisolatincyrillic", E_8859_5 }, { "cyrillic", E_8859_5 },
    { "iso-8859-5", E_8859_5 }, { "iso-ir-144", E_8859_5 }, { "iso8859-5", E_8859_5 },
    { "iso88595", E_8859_5 }, { "iso_8859-5", E_8859_5 }, { "iso_8859-5:1988", E_8859_5 },
    { "arabic", E_8859_6 }, { "asmo-708", E_8859_6 }, { "csiso88596e", E_8859_6 },
    { "csiso88596i", E_8859_6 }, { "csisolatinarabic", E_8859_6 }, { "ecma-114", E_8859_6 },
    { "iso-8859-6", E_8859_6 }, { "iso-8859-6-e", E_8859_6 }, { "iso-8859-6-i", E_8859_6 },
    { "iso-ir-127", E_8859_6 }, { "iso8859-6", E_8859_6 }, { "iso88596", E_8859_6 },
    { "iso_8859-6", E_8859_6 }, { "iso_8859-6:1987", E_8859_6 },
    { "csisolatingreek", E_8859_7 }, { "ecma-118", E_8859_7 }, { "elot_928", E_8859_7 },
    { "greek", E_8859_7 }, { "greek8", E_8859_7 }, { "iso-8859-7", E_8859_7 },
    { "iso-ir-126", E_8859_7 }, { "iso8859-7", E_8859_7 }, { "iso88597", E_8859_7 },
    { "iso_8859-7", E_8859_7 }, { "iso_8859-7:1987", E_8859_7 }, { "sun_eu_greek", E_8859_7 },
    { "csiso88598e", E_8859_8 }, { "csisolatinhebrew", E_8859_8 }, { "hebrew", E_8859_8 },
    { "iso-8859-8", E_8859_8 }, { "iso-8859-8-e", E_8859_8 }, { "iso-ir-138", E_8859_8 },
    { "iso8859-8", E_8859_8 }, { "iso88598", E_8859_8 }, { "iso_8859-8", E_8859_8 },
    { "iso_8859-8:1988", E_8859_8 }, { "visual", E_8859_8 },
    { "csiso88598i", E_8859_8I }, { "iso-8859-8-i", E_8859_8I }, { "logical", E_8859_8I },
    { "csisolatin6", E_8859_10 }, { "iso-8859-10", E_8859_10 }, { "iso-ir-157", E_8859_10 },
    { "iso8859-10", E_8859_10 }, { "iso885910", E_8859_10 }, { "l6", E_8859_10 },
    { "latin6", E_8859_10 },
    { "iso-8859-13", E_8859_13 }, { "iso8859-13", E_8859_13 }, { "iso885913", E_8859_13 },
    { "iso-8859-14", E_8859_14 }, { "iso8859-14", E_8859_14 }, { "iso885914", E_8859_14 },
    { "csisolatin9", E_8859_15 }, { "iso-8859-15", E_8859_15 }, { "iso8859-15", E_8859_15 },
    { "iso885915", E_8859_15 }, { "iso_8859-15", E_8859_15 }, { "l9", E_8859_15 },
    { "iso-8859-16", E_8859_16 },
    { "cskoi8r", E_KOI8R }, { "koi", E_KOI8R }, { "koi8", E_KOI8R }, { "koi8-r", E_KOI8R },
    { "koi8_r", E_KOI8R },
    { "koi8-ru", E_KOI8U }, { "koi8-u", E_KOI8U },
    { "csmacintosh", E_MAC }, { "mac", E_MAC }, { "macintosh", E_MAC },
    { "x-mac-roman", E_MAC },
    { "dos-874", E_W874 }, { "iso-8859-11", E_W874 }, { "iso8859-11", E_W874 },
    { "iso885911", E_W874 }, { "tis-620", E_W874 }, { "windows-874", E_W874 },
    { "cp1250", E_W1250 }, { "windows-1250", E_W1250 }, { "x-cp1250", E_W1250 },
    { "cp1251", E_W1251 }, { "windows-1251", E_W1251 }, { "x-cp1251", E_W1251 },
    { "ansi_x3.4-1968", E_W1252 }, { "ascii", E_W1252 }, { "cp1252", E_W1252 },
    { "cp819", E_W1252 }, { "csisolatin1", E_W1252 }, { "ibm819", E_W1252 },
    { "iso-8859-1", E_W1252 }, { "iso-ir-100", E_W1252 }, { "iso8859-1", E_W1252 },
    { "iso88591", E_W1252 }, { "iso_8859-1", E_W1252 }, { "iso_8859-1:1987", E_W1252 },
    { "l1", E_W1252 }, { "latin1", E_W1252 }, { "us-ascii", E_W1252 },
    { "windows-1252", E_W1252 }, { "x-cp1252", E_W1252 },
    { "cp1253", E_W1253 }, { "windows-1253", E_W1253 }, { "x-cp1253", E_W1253 },
    { "cp1254", E_W1254 }, { "csisolatin5", E_W1254 }, { "iso-8859-9", E_W1254 },
    { "iso-ir-148", E_W1254 }, { "iso8859-9", E_W1254 }, { "iso88599", E_W1254 },
    { "iso_8859-9", E_W1254 }, { "iso_8859-9:1989", E_W1254 }, { "l5", E_W1254 },
    { "latin5", E_W1254 }, { "windows-1254", E_W1254 }, { "x-cp1254", E_W1254 },
    { "cp1255", E_W1255 }, { "windows-1255", E_W1255 }, { "x-cp1255", E_W1255 },
    { "cp1256", E_W1256 }, { "windows-1256", E_W1256 }, { "x-cp1256", E_W1256 },
    { "cp1257", E_W1257 }, { "windows-1257", E_W1257 }, { "x-cp1257", E_W1257 },
    { "cp1258", E_W1258 }, { "windows-1258", E_W1258 }, { "x-cp1258", E_W1258 },
    { "x-mac-cyrillic", E_MACCYR }, { "x-mac-ukrainian", E_MACCYR },
    { "chinese", E_GBK }, { "csgb2312", E_GBK }, { "csiso58gb231280", E_GBK },
    { "gb2312", E_GBK }, { "gb_2312", E_GBK }, { "gb_2312-80", E_GBK }, { "gbk", E_GBK },
    { "iso-ir-58", E_GBK }, { "x-gbk", E_GBK },
    { "gb18030", E_GB18030 },
    { "big5", E_BIG5 }, { "big5-hkscs", E_BIG5 }, { "cn-big5", E_BIG5 },
    { "csbig5", E_BIG5 }, { "x-x-big5", E_BIG5 },
    { "cseucpkdfmtjapanese", E_EUCJP }, { "euc-jp", E_EUCJP }, { "x-euc-jp", E_EUCJP },
    { "csiso2022jp", E_2022JP }, { "iso-2022-jp", E_2022JP },
    { "csshiftjis", E_SJIS }, { "ms932", E_SJIS }, { "ms_kanji", E_SJIS },
    { "shift-jis", E_SJIS }, { "shift_jis", E_SJIS }, { "sjis", E_SJIS },
    { "windows-31j", E_SJIS }, { "x-sjis", E_SJIS },
    { "cseuckr", E_EUCKR }, { "csksc56011987", E_EUCKR }, { "euc-kr", E_EUCKR },
    { "iso-ir-149", E_EUCKR }, { "korean", E_EUCKR }, { "ks_c_5601-1987", E_EUCKR },
    { "ks_c_5601-1989", E_EUCKR }, { "ksc5601", E_EUCKR }, { "ksc_5601", E_EUCKR },
    { "windows-949", E_EUCKR },
    { "unicodefffe", E_UTF16BE }, { "utf-16be", E_UTF16BE },
    { "csunicode", E_UTF16LE }, { "iso-10646-ucs-2", E_UTF16LE }, { "ucs-2", E_UTF16LE },
    { "unicode", E_UTF16LE }, { "unicodefeff", E_UTF16LE }, { "utf-16", E_UTF16LE },
    { "utf-16le", E_UTF16LE },
    { "csiso2022kr", E_REPLACEMENT }, { "hz-gb-2312", E_REPLACEMENT },
    { "iso-2022-cn", E_REPLACEMENT }, { "iso-2022-cn-ext", E_REPLACEMENT },
    { "iso-2022-kr", E_REPLACEMENT }, { "replacement", E_REPLACEMENT },
};

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* The encoding index of a label of n bytes (not NUL-terminated), or -1. */
static int label_lookup(const char *label, apr_size_t n)
{
    char buf[40];
    apr_size_t i;
    int found = -1;

    while (n > 0 && is_space((unsigned char)*label)) {
        ++label;
        --n;
    }
    while (n > 0 && is_space((unsigned char)label[n - 1]))
        --n;
    if (n > 0 && n < sizeof(buf)) {
        for (i = 0; i < n; ++i)
            buf[i] = (char)lower((unsigned char)label[i]);
        buf[n] = '\0';
        for (i = 0; i < sizeof(labels) / sizeof(labels[0]); ++i) {
            if (strcmp(labels[i].label, buf) == 0) {
                found = labels[i].enc;
                break;
            }
        }
    }
    return found;
}

const char *pk_charset_canonical(const char *label)
{
    int e = label ? label_lookup(label, strlen(label)) : -1;

    return e >= 0 ? encodings[e].name : NULL;
}

/* ------------------------------------------------------------------------- */
/* UTF-8 repair (validation itself is pk_utf8.c).                            */

/* Eight ASCII bytes at s, none of them NUL? */
static int ascii8(const unsigned char *s)
{
    uint64_t x;

    memcpy(&x, s, 8);
    return !(x & 0x8080808080808080ULL)
           && !((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL);
}

/* One pass over UTF-8 input: without out, count the output size (invalid sequences
 * become U+FFFD, NULs are dropped); with out, write it. Returns the output size.
 * *multibyte (may be NULL) tells whether a valid multi-byte sequence was seen,
 * *invalid whether anything had to be replaced. */
static apr_size_t utf8_repair(const unsigned char *s, apr_size_t len, char *out,
                              int *multibyte, int *invalid)
{
    apr_size_t i = 0, o = 0, k, bad;
    int mb = 0, inv = 0;

    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80 && i + 8 <= len && ascii8(s + i)) {
            if (out)
                memcpy(out + o, s + i, 8);
            o += 8;
            i += 8;
            continue;
        }
        if (c < 0x80) {
            if (c != 0) {
                if (out)
                    out[o] = (char)c;
                ++o;
            }
            ++i;
            continue;
        }
        k = pk_utf8_seq(s + i, len - i, &bad);
        if (k > 0) {
            if (out)
                memcpy(out + o, s + i, k);
            o += k;
            i += k;
            mb = 1;
        }
        else {
            if (out)
                memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
            inv = 1;
        }
    }
    if (multibyte)
        *multibyte = mb;
    if (invalid)
        *invalid = inv;
    return o;
}

/* ------------------------------------------------------------------------- */
/* <meta> prescan (HTML5 "prescan a byte stream to determine its encoding").   */

typedef struct {
    const char *name;
    apr_size_t name_len;
    const char *value;
    apr_size_t value_len;
} attr_t;

/* Read one attribute at *pos (before end); returns 0 at the end of the tag (the '>'
 * is consumed) or of the input. */
static int get_attr(const char *s, apr_size_t end, apr_size_t *pos, attr_t *a)
{
    apr_size_t i = *pos;
    int got = 0;

    while (i < end && (is_space((unsigned char)s[i]) || s[i] == '/'))
        ++i;
    if (i < end && s[i] != '>') {
        a->name = s + i;
        while (i < end && !is_space((unsigned char)s[i]) && s[i] != '=' && s[i] != '>'
               && !(s[i] == '/' && a->name != s + i))
            ++i;
        a->name_len = (apr_size_t)(s + i - a->name);
        a->value = s + i;
        a->value_len = 0;
        while (i < end && is_space((unsigned char)s[i]))
            ++i;
        if (i < end && s[i] == '=') {
            ++i;
            while (i < end && is_space((unsigned char)s[i]))
                ++i;
            if (i < end && (s[i] == '"' || s[i] == '\'')) {
                char q = s[i++];
                a->value = s + i;
                while (i < end && s[i] != q)
                    ++i;
                a->value_len = (apr_size_t)(s + i - a->value);
                if (i < end)
                    ++i;
            }
            else {
                a->value = s + i;
                while (i < end && !is_space((unsigned char)s[i]) && s[i] != '>')
                    ++i;
                a->value_len = (apr_size_t)(s + i - a->value);
            }
        }
        got = 1;
    }
    else if (i < end)
        ++i; /* the '>' */
    *pos = i;
    return got;
}

static int name_is(const attr_t *a, const char *lit)
{
    apr_size_t n = strlen(lit), i;
    int same = a->name_len == n;

    for (i = 0; same && i < n; ++i)
        same = lower((unsigned char)a->name[i]) == (unsigned char)lit[i];
    return same;
}

/* The charset named in a Content-Type value ("text/html; charset=x"): sets *v, *n. */
static int charset_from_content(const char *s, apr_size_t len, const char **v, apr_size_t *n)
{
    apr_size_t i = 0, j;
    int found = 0;

    while (!found && i + 7 <= len) {
        for (j = 0; j < 7; ++j)
            if (lower((unsigned char)s[i + j]) != (unsigned char)"charset"[j])
                break;
        if (j < 7) {
            ++i;
            continue;
        }
        i += 7;
        while (i < len && is_space((unsigned char)s[i]))
            ++i;
        if (i >= len || s[i] != '=')
            continue;
        ++i;
        while (i < len && is_space((unsigned char)s[i]))
            ++i;
        if (i < len && (s[i] == '"' || s[i] == '\'')) {
            char q = s[i++];
            j = i;
            while (j < len && s[j] != q)
                ++j;
            if (j < len) {
                *v = s + i;
                *n = j - i;
                found = 1;
            }
            i = len;
        }
        else if (i < len) {
            j = i;
            while (j < len && !is_space((unsigned char)s[j]) && s[j] != ';')
                ++j;
            *v = s + i;
            *n = j - i;
            found = j > i;
            i = len;
        }
    }
    return found;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

const char *pk_charset_sniff_meta(apr_pool_t *p, const char *s, apr_size_t len)
{
    apr_size_t end = len < PK_CHARSET_PRESCAN_BYTES ? len : PK_CHARSET_PRESCAN_BYTES;
    apr_size_t i = 0;
    const char *found = NULL;
    attr_t a;

    while (!found && s && i < end) {
        if (s[i] != '<') {
            const char *lt = memchr(s + i, '<', end - i);
            i = lt ? (apr_size_t)(lt - s) : end;
            continue;
        }
        if (end - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            apr_size_t j = i + 4;
            while (j + 3 <= end && memcmp(s + j, "-->", 3) != 0)
                ++j;
            i = j + 3;
        }
        else if (end - i >= 6 && lower((unsigned char)s[i + 1]) == 'm'
                 && lower((unsigned char)s[i + 2]) == 'e'
                 && lower((unsigned char)s[i + 3]) == 't'
                 && lower((unsigned char)s[i + 4]) == 'a'
                 && (is_space((unsigned char)s[i + 5]) || s[i + 5] == '/')) {
            const char *cs = NULL, *ct = NULL;
            apr_size_t cs_len = 0, ct_len = 0;
            int pragma = 0;
            i += 5;
            while (get_attr(s, end, &i, &a)) {
                if (name_is(&a, "charset") && !cs) {
                    cs = a.value;
                    cs_len = a.value_len;
                }
                else if (name_is(&a, "http-equiv") && a.value_len == 12
                         && strncasecmp(a.value, "content-type", 12) == 0)
                    pragma = 1;
                else if (name_is(&a, "content") && !ct) {
                    ct = a.value;
                    ct_len = a.value_len;
                }
            }
            if (cs && cs_len > 0)
                found = apr_pstrmemdup(p, cs, cs_len);
            else if (pragma && ct && charset_from_content(ct, ct_len, &cs, &cs_len))
                found = apr_pstrmemdup(p, cs, cs_len);
        }
        else if (end - i >= 2 && (is_alpha((unsigned char)s[i + 1])
                                  || (s[i + 1] == '/' && end - i >= 3
                                      && is_alpha((unsigned char)s[i + 2])))) {
            /* another tag: skip its name and attributes (values may hold '>') */
            i += s[i + 1] == '/' ? 2 : 1;
            while (i < end && !is_space((unsigned char)s[i]) && s[i] != '>')
                ++i;
            while (get_attr(s, end, &i, &a))
                ;
        }
        else if (end - i >= 2 && (s[i + 1] == '!' || s[i + 1] == '/' || s[i + 1] == '?')) {
            const char *gt = memchr(s + i, '>', end - i);
            i = gt ? (apr_size_t)(gt - s) + 1 : end;
        }
        else
            ++i;
    }
    return found;
}

/* ------------------------------------------------------------------------- */
/* Conversion.                                                                */

/* One pass of an iconv conversion (from the start of the input): without out, count
 * the output size in a scratch buffer; with out (cap bytes), write it. Bytes the
 * encoding does not define become U+FFFD, NULs are dropped. Returns the size, or
 * (apr_size_t)-1 if apr_xlate cannot convert from this encoding. */
static apr_size_t xlate_pass(apr_pool_t *p, const char *iconv_name, const char *in,
                             apr_size_t len, char *out, apr_size_t cap)
{
    char scratch[4096];
    apr_xlate_t *xl = NULL;
    apr_size_t o = 0, left = len, i, k, n, room;
    apr_status_t rv;
    int done = 0;

    if (apr_xlate_open(&xl, "UTF-8", iconv_name, p) != APR_SUCCESS) {
        o = (apr_size_t)-1;
        done = 1;
    }
    while (!done) {
        char *dst = out ? out + o : scratch;
        room = out ? cap - o : sizeof(scratch);
        n = room;
        if (room < 8) /* cannot happen: cap comes from the counting pass */
            break;
        if (left == 0) {
            rv = apr_xlate_conv_buffer(xl, NULL, NULL, dst, &room); /* flush the state */
            done = 1;
        }
        else
            rv = apr_xlate_conv_buffer(xl, in + (len - left), &left, dst, &room);
        n -= room;
        for (i = 0, k = 0; i < n; ++i) /* drop NULs */
            if (dst[i] != '\0')
                dst[k++] = dst[i];
        o += k;
        if (done)
            break;
        if (rv == APR_EINVAL || rv == APR_INCOMPLETE) {
            /* a byte the encoding does not define, or a truncated sequence at the end
             * (the whole rest of the input is always passed) */
            if (out)
                memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            if (rv == APR_INCOMPLETE || left == 0)
                left = 0;
            else
                --left;
        }
        else if (rv != APR_SUCCESS || (n == 0 && left > 0))
            done = 1; /* unexpected: keep what was converted */
    }
    return o;
}

/* Convert with iconv into p; returns 0 if the encoding cannot be opened. */
static int convert(apr_pool_t *p, int enc, const char *in, apr_size_t len, char **out,
                   apr_size_t *out_len)
{
    apr_size_t n = xlate_pass(p, encodings[enc].iconv, in, len, NULL, 0), m;
    int ok = 0;

    if (n != (apr_size_t)-1) {
        *out = apr_palloc(p, n + 8 + 1);
        m = xlate_pass(p, encodings[enc].iconv, in, len, *out, n + 8);
        if (m != (apr_size_t)-1) {
            (*out)[m] = '\0';
            *out_len = m;
            ok = 1;
        }
    }
    return ok;
}

apr_status_t pk_charset_to_utf8(apr_pool_t *p, const char *bytes, apr_size_t len,
                                const char *http_charset, const char **out,
                                apr_size_t *out_len, const char **charset_used)
{
    const unsigned char *u = (const unsigned char *)bytes;
    const char *unsupported = NULL, *used = NULL, *meta;
    apr_status_t rv = APR_SUCCESS;
    apr_size_t skip = 0, n = 0;
    char *buf = NULL;
    int enc = -1, declared = 0, mb = 0, inv = 0;

    if ((!bytes && len > 0) || !out)
        rv = APR_EINVAL;
    if (rv == APR_SUCCESS) {
        /* 1. byte order mark */
        if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
            enc = E_UTF8;
            skip = 3;
        }
        else if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE) {
            enc = E_UTF16LE;
            skip = 2;
        }
        else if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF) {
            enc = E_UTF16BE;
            skip = 2;
        }
        /* 2. HTTP header */
        if (enc < 0 && http_charset && *http_charset) {
            enc = label_lookup(http_charset, strlen(http_charset));
            if (enc < 0 || enc == E_REPLACEMENT) {
                unsupported = enc < 0 ? apr_pstrdup(p, http_charset) : "replacement";
                enc = -1;
            }
            else
                declared = 1;
        }
        /* 3. <meta> */
        if (enc < 0 && (meta = pk_charset_sniff_meta(p, bytes, len)) != NULL) {
            enc = label_lookup(meta, strlen(meta));
            if (enc == E_UTF16LE || enc == E_UTF16BE)
                enc = E_UTF8; /* HTML5: a meta cannot really declare UTF-16 */
            if (enc < 0 || enc == E_REPLACEMENT) {
                if (!unsupported)
                    unsupported = enc < 0 ? meta : "replacement";
                enc = -1;
            }
            else
                declared = 1;
        }
        /* a single-byte label on bytes that are valid multi-byte UTF-8 */
        if (enc >= 0 && declared && encodings[enc].single_byte) {
            utf8_repair(u, len, NULL, &mb, &inv);
            if (mb && !inv && pk_utf8_valid_prefix(bytes, len) == len)
                enc = E_UTF8;
        }
        if (enc >= 0 && enc != E_UTF8) {
            if (convert(p, enc, bytes + skip, len - skip, &buf, &n))
                used = encodings[enc].name;
            else {
                unsupported = encodings[enc].name;
                enc = -1;
            }
        }
        if (!used) {
            /* 4. UTF-8, by default or as the fallback */
            n = utf8_repair(u + skip, len - skip, NULL, &mb, &inv);
            buf = apr_palloc(p, n + 1);
            if (n == len - skip && !inv)
                memcpy(buf, u + skip, n); /* valid and without NULs: a plain copy */
            else
                utf8_repair(u + skip, len - skip, buf, NULL, NULL);
            buf[n] = '\0';
            used = unsupported ? apr_psprintf(p, "UTF-8 (unsupported: %s)", unsupported)
                               : encodings[E_UTF8].name;
        }
        *out = buf;
        if (out_len)
            *out_len = n;
        if (charset_used)
            *charset_used = used;
    }
    return rv;
}
