/* Key authentication for /score, as Azure ML endpoints do it: clients send
 * `Authorization: Bearer <key>`; a primary and a secondary key are both valid
 * so keys rotate without downtime. Keys come from AMLSERVE_AUTH_KEYS
 * ("primary[,secondary]") or a key file (one key per line, '#' comments),
 * which auth_reload re-reads (amlserve calls it on SIGHUP). Comparison is
 * constant-time. auth_check may run on any thread while another reloads. */
#ifndef AMLSERVE_AUTH_H
#define AMLSERVE_AUTH_H

#include <pthread.h>
#include <stddef.h>

#define AUTH_MAX_KEYS 2
#define AUTH_KEY_MAX 256

struct auth {
    pthread_rwlock_t lock;
    const char *key_file; /* borrowed; NULL when keys came from the environment */
    char keys[AUTH_MAX_KEYS][AUTH_KEY_MAX + 1];
    int n_keys;
};

/* keys_text: "k1[,k2]" or NULL; key_file: path or NULL. With neither, auth is off. */
int auth_init(struct auth *a, const char *keys_text, const char *key_file);
void auth_release(struct auth *a);
int auth_enabled(struct auth *a);
/* Re-reads the key file; on error the old keys stay. */
int auth_reload(struct auth *a);
/* 1 when the Authorization header value carries a valid key. */
int auth_check(struct auth *a, const char *authorization);

#endif
