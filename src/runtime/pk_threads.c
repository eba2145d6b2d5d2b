/* mod_poketto — memory for the module's own threads; see pk_threads.h. */
#include <pthread.h>
#include <apr_allocator.h>
#include <apr_thread_mutex.h>

#include "pk_threads.h"

apr_status_t pk_threads_pool(apr_pool_t **pool, const char *tag)
{
    apr_allocator_t *alloc = NULL;
    apr_thread_mutex_t *mutex = NULL;
    apr_status_t rv;

    *pool = NULL;
    if (APR_SUCCESS != (rv = apr_allocator_create(&alloc))) {
        goto leave;
    }
    if (APR_SUCCESS != (rv = apr_pool_create_unmanaged_ex(pool, NULL, alloc))) {
        apr_allocator_destroy(alloc);
        goto leave;
    }
    apr_allocator_owner_set(alloc, *pool);
    apr_pool_tag(*pool, tag);
    if (APR_SUCCESS != (rv = apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, *pool))) {
        apr_pool_destroy(*pool);
        *pool = NULL;
        goto leave;
    }
    apr_allocator_mutex_set(alloc, mutex);
leave:
    return rv;
}

void pk_threads_name(const char *name)
{
#if defined(__linux__) && defined(_GNU_SOURCE)
    pthread_setname_np(pthread_self(), name);
#else
    (void)name;
#endif
}
