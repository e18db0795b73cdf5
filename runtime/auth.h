/* Key authentication for /score, as Azure ML endpoints do it: clients send
 * `Authorization: Bearer <key>`; a primary and a secondary key are both valid
 * so keys rotate without downtime. Keys come from AMLSERVE_AUTH_KEYS
 * ("primary[,secondary]") or a key file (one key per line, '#' comments),
 * which auth_reload re-reads (amlserve calls it on SIGHUP). Comparison is
 * constant-time. auth_check may run on any thread while another reloads. */
#ifndef AMLSERVE_AUTH_H
#define AMLSERVE_AUTH_H

#include "common/arena.h"

#include <pthread.h>
#include <stddef.h>

#define AUTH_MAX_KEYS 2
#define AUTH_KEY_MAX 256

#define AUTH_SECRET_MAX 512

struct auth {
    pthread_rwlock_t lock;
    const char *key_file; /* borrowed; NULL when keys came from the environment */
    char keys[AUTH_MAX_KEYS][AUTH_KEY_MAX + 1];
    int n_keys;
    /* Token mode (HS256 JWTs) instead of keys; never both, as in Azure ML. */
    const char *secret_file; /* borrowed; NULL when the secret came from the environment */
    unsigned char secret[AUTH_SECRET_MAX];
    size_t secret_len;
};

/* keys_text: "k1[,k2]" or NULL; key_file: path or NULL. With neither, auth is off. */
int auth_init(struct auth *a, const char *keys_text, const char *key_file);
/* Switches to token auth with an HS256 secret (text, or the first line of a file, re-read by
 * auth_reload). Refused when keys are set: Azure ML never combines the two. */
int auth_init_token(struct auth *a, const char *secret_text, const char *secret_file);
void auth_release(struct auth *a);
int auth_enabled(struct auth *a);
/* Re-reads the key file; on error the old keys stay. */
int auth_reload(struct auth *a);
/* 1 when the Authorization header value carries a valid key or token; else 0 with *why set to
 * a short reason for the 401. arena holds the token's decoded JSON (token mode only). */
int auth_check(struct auth *a, const char *authorization, struct arena *arena, const char **why);

#endif
