/* mod_poketto — secrets; see pk_secret.h. */
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <apr_base64.h>
#include <apr_sha1.h>
#include <apr_md5.h>

#include "pk_secret.h"

apr_status_t pk_secret_token(apr_pool_t *p, const char *prefix, apr_size_t nbytes,
                             const char **token)
{
    unsigned char *raw = apr_palloc(p, nbytes);
    char *b64, *s;
    apr_status_t rv;

    *token = NULL;
    if (APR_SUCCESS != (rv = apr_generate_random_bytes(raw, nbytes))) {
        goto leave;
    }
    b64 = apr_palloc(p, apr_base64_encode_len((int)nbytes));
    apr_base64_encode_binary(b64, raw, (int)nbytes);
    for (s = b64; *s; ++s) {        /* base64url, no padding: safe in cookies and headers */
        if (*s == '+') *s = '-';
        else if (*s == '/') *s = '_';
        else if (*s == '=') { *s = '\0'; break; }
    }
    *token = apr_pstrcat(p, prefix ? prefix : "", b64, NULL);
leave:
    return rv;
}

const char *pk_secret_hash(apr_pool_t *p, const char *secret)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    char *hex = apr_palloc(p, 2 * APR_SHA1_DIGESTSIZE + 1);
    static const char xd[] = "0123456789abcdef";
    int i;

    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, secret, (unsigned int)strlen(secret));
    apr_sha1_final(digest, &ctx);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; ++i) {
        hex[2 * i] = xd[digest[i] >> 4];
        hex[2 * i + 1] = xd[digest[i] & 0xf];
    }
    hex[2 * APR_SHA1_DIGESTSIZE] = '\0';
    return hex;
}

int pk_secret_equal(const char *a, const char *b)
{
    apr_size_t la = strlen(a), lb = strlen(b), i;
    unsigned char diff = (la != lb);

    for (i = 0; i < la && i < lb; ++i) {
        diff |= (unsigned char)(a[i] ^ b[i]);
    }
    return diff == 0;
}

apr_status_t pk_password_hash(apr_pool_t *p, const char *password, int cost,
                              const char **hash)
{
    unsigned char salt[16];
    char out[64];
    apr_status_t rv;

    *hash = NULL;
    if (APR_SUCCESS != (rv = apr_generate_random_bytes(salt, sizeof(salt)))
        || APR_SUCCESS != (rv = apr_bcrypt_encode(password, (unsigned int)cost, salt,
                                                  sizeof(salt), out, sizeof(out)))) {
        goto leave;
    }
    *hash = apr_pstrdup(p, out);
leave:
    return rv;
}

int pk_password_check(const char *password, const char *hash)
{
    return hash && *hash && apr_password_validate(password, hash) == APR_SUCCESS;
}
