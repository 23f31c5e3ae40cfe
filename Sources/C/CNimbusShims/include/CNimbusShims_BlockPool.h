// A small-block cache for one owner at a time (an nghttp2 session, confined to its loop):
// freed blocks of up to 512 bytes wait in per-size free lists and are handed out again
// without going through malloc. nghttp2 allocates and frees several small structures per
// stream (the stream, outbound items, header arrays); these become list pops and pushes.
// The four functions have the shapes of nghttp2_mem's callbacks; `pool` is their user data.
#pragma once
#include <stddef.h>

typedef struct CNimbusShims_BlockPool CNimbusShims_BlockPool;

CNimbusShims_BlockPool *CNimbusShims_BlockPool_create(void);
/// Frees the cached blocks and the pool; every block handed out must have been freed.
void CNimbusShims_BlockPool_destroy(CNimbusShims_BlockPool *pool);

void *CNimbusShims_BlockPool_malloc(size_t size, void *pool);
void CNimbusShims_BlockPool_free(void *ptr, void *pool);
void *CNimbusShims_BlockPool_calloc(size_t count, size_t size, void *pool);
void *CNimbusShims_BlockPool_realloc(void *ptr, size_t size, void *pool);
