/* mod_poketto — who is asking (http layer): Bearer tokens, session cookies, or
 * Apache's own authentication (PokettoAuth httpd). */
#ifndef PK_AUTH_H
#define PK_AUTH_H

#include "pk_http.h"

#define PK_SESSION_COOKIE "poketto_session"
#define PK_TOKEN_PREFIX "pkt_"

/** Establish pr->user_id: from `Authorization: Bearer`, else (PokettoAuth httpd)
 *  r->user, creating the account on first sight, else the session cookie. Answers 401
 *  and returns DONE when nobody is authenticated. */
int pk_auth_identify(pk_req *pr);

/** For a cookie-authenticated state-changing request: accept a matching X-CSRF-Token,
 *  or an Origin equal to the server's own or listed in PokettoAllowedOrigins; else
 *  answer 403 and return DONE. */
int pk_auth_check_csrf(pk_req *pr);

/** The session cookie's value, or NULL. */
const char *pk_auth_cookie(pk_req *pr);

#endif /* PK_AUTH_H */
