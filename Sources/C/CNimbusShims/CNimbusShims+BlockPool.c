#include "CNimbusShims_BlockPool.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Each block starts with a 16-byte header (keeping malloc's 16-byte alignment for the
// payload): the payload capacity and the size class (LARGE: plain malloc, never cached).
enum { CLASSES = 5, LARGE = 0xFF, MAX_CACHED_PER_CLASS = 1024 };
static const size_t class_capacity[CLASSES] = {32, 64, 128, 256, 512};

typedef struct header { size_t capacity; size_t size_class; } header;
typedef struct free_block { struct free_block *next; } free_block;

struct CNimbusShims_BlockPool {
    free_block *free_lists[CLASSES];
    size_t counts[CLASSES];
};

CNimbusShims_BlockPool *CNimbusShims_BlockPool_create(void) {
    return calloc(1, sizeof(CNimbusShims_BlockPool));
}

void CNimbusShims_BlockPool_destroy(CNimbusShims_BlockPool *pool) {
    if (!pool) return;
    for (int c = 0; c < CLASSES; c++) {
        free_block *block = pool->free_lists[c];
        while (block) {
            free_block *next = block->next;
            free((header *)block - 1);
            block = next;
        }
    }
    free(pool);
}

static inline int size_class(size_t size) {
    for (int c = 0; c < CLASSES; c++) if (size <= class_capacity[c]) return c;
    return -1;
}

void *CNimbusShims_BlockPool_malloc(size_t size, void *user) {
    CNimbusShims_BlockPool *pool = user;
    int c = size_class(size);
    if (c >= 0 && pool->free_lists[c]) {
        free_block *block = pool->free_lists[c];
        pool->free_lists[c] = block->next;
        pool->counts[c]--;
        return block;
    }
    size_t capacity = c >= 0 ? class_capacity[c] : size;
    header *h = malloc(sizeof(header) + capacity);
    if (!h) return NULL;
    h->capacity = capacity;
    h->size_class = c >= 0 ? (size_t)c : LARGE;
    return h + 1;
}

void CNimbusShims_BlockPool_free(void *ptr, void *user) {
    if (!ptr) return;
    CNimbusShims_BlockPool *pool = user;
    header *h = (header *)ptr - 1;
    size_t c = h->size_class;
    if (c == LARGE || pool->counts[c] >= MAX_CACHED_PER_CLASS) {
        free(h);
        return;
    }
    free_block *block = ptr;
    block->next = pool->free_lists[c];
    pool->free_lists[c] = block;
    pool->counts[c]++;
}

void *CNimbusShims_BlockPool_calloc(size_t count, size_t size, void *user) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *p = CNimbusShims_BlockPool_malloc(count * size, user);
    if (p) memset(p, 0, count * size);
    return p;
}

void *CNimbusShims_BlockPool_realloc(void *ptr, size_t size, void *user) {
    if (!ptr) return CNimbusShims_BlockPool_malloc(size, user);
    header *h = (header *)ptr - 1;
    if (size <= h->capacity) return ptr;
    void *grown = CNimbusShims_BlockPool_malloc(size, user);
    if (!grown) return NULL;
    memcpy(grown, ptr, h->capacity);
    CNimbusShims_BlockPool_free(ptr, user);
    return grown;
}
