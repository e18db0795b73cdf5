#include "auth.h"

#include "common/buf.h"
#include "common/err.h"

#include <string.h>
#include <strings.h>

/* Splits text into keys at commas or newlines; '#' starts a comment line. */
static int parse_keys(char out[AUTH_MAX_KEYS][AUTH_KEY_MAX + 1], int *n_out, const char *text, size_t len,
                      const char *source)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != ',' && text[i] != '\n')
            i++;
        size_t end = i++;
        while (start < end && (text[start] == ' ' || text[start] == '\t'))
            start++;
        while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r'))
            end--;
        if (end == start || text[start] == '#')
            continue;
        if (n == AUTH_MAX_KEYS)
            return err_set(ERR_INVALID, "%s: at most %d keys (primary and secondary)", source, AUTH_MAX_KEYS);
        if (end - start > AUTH_KEY_MAX)
            return err_set(ERR_INVALID, "%s: a key is longer than %d characters", source, AUTH_KEY_MAX);
        memcpy(out[n], text + start, end - start);
        out[n][end - start] = 0;
        n++;
    }
    if (n == 0)
        return err_set(ERR_INVALID, "%s: no keys", source);
    *n_out = n;
    return 0;
}

int auth_init(struct auth *a, const char *keys_text, const char *key_file)
{
    memset(a, 0, sizeof *a);
    pthread_rwlock_init(&a->lock, NULL);
    if (key_file && key_file[0]) {
        a->key_file = key_file;
        return auth_reload(a);
    }
    if (keys_text && keys_text[0])
        return parse_keys(a->keys, &a->n_keys, keys_text, strlen(keys_text), "AMLSERVE_AUTH_KEYS");
    return 0;
}

void auth_release(struct auth *a)
{
    pthread_rwlock_destroy(&a->lock);
    memset(a->keys, 0, sizeof a->keys);
}

int auth_enabled(struct auth *a)
{
    pthread_rwlock_rdlock(&a->lock);
    int on = a->n_keys > 0;
    pthread_rwlock_unlock(&a->lock);
    return on;
}

int auth_reload(struct auth *a)
{
    if (!a->key_file)
        return 0;
    struct buf text;
    buf_init(&text, 64 * 1024);
    char keys[AUTH_MAX_KEYS][AUTH_KEY_MAX + 1];
    int n = 0;
    int rc = buf_read_file(&text, a->key_file);
    if (!rc)
        rc = parse_keys(keys, &n, text.data ? text.data : "", text.len, a->key_file);
    buf_release(&text);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&a->lock);
    memcpy(a->keys, keys, sizeof keys);
    a->n_keys = n;
    pthread_rwlock_unlock(&a->lock);
    memset(keys, 0, sizeof keys);
    return 0;
}

/* Compares every byte whatever the first difference, so timing tells nothing. */
static int same_secret(const char *given, size_t given_len, const char *key)
{
    size_t key_len = strlen(key);
    unsigned diff = (unsigned)(given_len ^ key_len);
    for (size_t i = 0; i < AUTH_KEY_MAX; i++) {
        unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
        unsigned char k = i < key_len ? (unsigned char)key[i] : 0;
        diff |= (unsigned)(g ^ k);
    }
    return diff == 0;
}

int auth_check(struct auth *a, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t len = strlen(given);
    while (len && given[len - 1] == ' ')
        len--;
    if (len > AUTH_KEY_MAX)
        return 0;
    int ok = 0;
    pthread_rwlock_rdlock(&a->lock);
    for (int i = 0; i < a->n_keys; i++)
        ok |= same_secret(given, len, a->keys[i]);
    pthread_rwlock_unlock(&a->lock);
    return ok;
}
