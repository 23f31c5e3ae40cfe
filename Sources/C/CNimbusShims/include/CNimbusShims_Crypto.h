#pragma once
// Crypto helpers over OpenSSL 3 (EVP_KDF, EVP_CIPHER): OSSL_PARAM arrays and GCM ctrl
// macros stay in C. Each returns 1 on success, 0 on failure (ERR queue left for the caller).
#include <stddef.h>
#include <stdint.h>

int CNimbusShims_scrypt(const uint8_t *password, size_t password_len,
                        const uint8_t *salt, size_t salt_len,
                        uint64_t n, uint32_t r, uint32_t p, uint64_t maxmem,
                        uint8_t *out, size_t out_len);

int CNimbusShims_aes256gcm_seal(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *plaintext, size_t plaintext_len,
                                uint8_t *ciphertext, uint8_t *tag16);

// Returns 0 when the tag does not verify (nothing in *plaintext is meaningful then).
int CNimbusShims_aes256gcm_open(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                                const uint8_t *aad, size_t aad_len,
                                const uint8_t *ciphertext, size_t ciphertext_len,
                                const uint8_t *tag16, uint8_t *plaintext);
