/* mod_poketto — routing API requests to their handlers (http layer). */
#ifndef PK_ROUTER_H
#define PK_ROUTER_H

#include <httpd.h>

/** Answer a request for the `poketto` handler: find the route below the mount point
 *  (404 when none, 405 with Allow when the method does not fit), authenticate when
 *  the route needs it (401), check CSRF for cookie-authenticated changes (403), run
 *  the handler. Always answers: returns OK. */
int pk_router_handle(request_rec *r);

#endif /* PK_ROUTER_H */
