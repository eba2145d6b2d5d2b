/* mod_poketto — the API's handlers (http layer), one file per resource:
 * pk_api_session.c, pk_api_tokens.c, pk_api_items.c, pk_api_tags.c, pk_api_tasks.c,
 * pk_api_events.c.
 * Each answers one method on one route; the router authenticated the user before. */
#ifndef PK_API_H
#define PK_API_H

#include "pk_http.h"

pk_handler_fn pk_api_session_login;     /* POST   /session */
pk_handler_fn pk_api_session_get;       /* GET    /session */
pk_handler_fn pk_api_session_logout;    /* DELETE /session */
pk_handler_fn pk_api_session_password;  /* POST   /password */

pk_handler_fn pk_api_tokens_list;       /* GET    /tokens */
pk_handler_fn pk_api_tokens_create;     /* POST   /tokens */
pk_handler_fn pk_api_tokens_delete;     /* DELETE /tokens/{id} */

pk_handler_fn pk_api_items_list;        /* GET    /items */
pk_handler_fn pk_api_items_save;        /* POST   /items */
pk_handler_fn pk_api_items_get;         /* GET    /items/{id} */
pk_handler_fn pk_api_items_patch;       /* PATCH  /items/{id} */
pk_handler_fn pk_api_items_delete;      /* DELETE /items/{id} */
pk_handler_fn pk_api_items_refetch;     /* POST   /items/{id}/refetch */

pk_handler_fn pk_api_tags_list;         /* GET    /tags */
pk_handler_fn pk_api_tags_rename;       /* PATCH  /tags/{name} */
pk_handler_fn pk_api_tags_delete;       /* DELETE /tags/{name} */

pk_handler_fn pk_api_tasks_get;         /* GET    /tasks/{id} */

pk_handler_fn pk_api_ws_open;           /* GET    /ws (WebSocket) */
pk_handler_fn pk_api_ws_ticket;         /* POST   /ws-ticket */
pk_handler_fn pk_api_events_get;        /* GET    /events (SSE or long poll) */

#endif /* PK_API_H */
