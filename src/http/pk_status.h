/* mod_poketto — the task engine on mod_status's server-status page (http layer). */
#ifndef PK_STATUS_H
#define PK_STATUS_H

/** Join mod_status's status_hook (an optional hook: no harm without mod_status). */
void pk_status_register_hooks(void);

#endif /* PK_STATUS_H */
