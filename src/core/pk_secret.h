/* mod_poketto — secrets: random tokens, their stored hashes, password hashing. */
#ifndef PK_SECRET_H
#define PK_SECRET_H

#include <apr_pools.h>
#include <apr_errno.h>

/** A fresh random secret: prefix followed by nbytes of randomness, base64url without
 *  padding (from p). APR's random source (getrandom / /dev/urandom). */
apr_status_t pk_secret_token(apr_pool_t *p, const char *prefix, apr_size_t nbytes,
                             const char **token);

/** The hash under which a token or session id is stored (hex SHA-1 of the secret, from p).
 *  The secrets are 256 random bits, so a fast hash is enough: nothing to brute-force,
 *  and lookups stay one index probe. Passwords use pk_password_hash instead. */
const char *pk_secret_hash(apr_pool_t *p, const char *secret);

/** Constant-time comparison of two strings. */
int pk_secret_equal(const char *a, const char *b);

/** bcrypt hash of a password (cost 4..31), in the format apr_password_validate reads. */
apr_status_t pk_password_hash(apr_pool_t *p, const char *password, int cost,
                              const char **hash);

/** Whether password matches hash (bcrypt or any format apr_password_validate knows). */
int pk_password_check(const char *password, const char *hash);

#endif /* PK_SECRET_H */
