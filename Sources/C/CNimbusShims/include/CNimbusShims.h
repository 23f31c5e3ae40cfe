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
