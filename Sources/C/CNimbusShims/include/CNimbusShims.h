// Linux and OpenSSL bits that Swift cannot reach directly: functions hidden behind
// _GNU_SOURCE, and macros. Every symbol carries the CNimbusShims_ prefix.
#pragma once
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

int CNimbusShims_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

// OpenSSL's SSL_CTX_set_* helpers that are macros over SSL_CTX_ctrl.
long CNimbusShims_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
long CNimbusShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name);

#include "CNimbusShims_Crypto.h"
#include "CNimbusShims_BlockPool.h"

// Relaxed atomic counters for statistics that many threads bump and one reader sums up now
// and then (no ordering needed): one locked add, no lock object.
#include <stdint.h>
static inline void CNimbusShims_counter_add(uint64_t *counter, uint64_t value) {
    __atomic_fetch_add(counter, value, __ATOMIC_RELAXED);
}
static inline uint64_t CNimbusShims_counter_load(const uint64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}
