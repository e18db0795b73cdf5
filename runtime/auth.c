#include "auth.h"

#include "common/buf.h"
#include "common/err.h"
#include "jwt.h"

#include <time.h>

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
    memset(a->secret, 0, sizeof a->secret);
}

/* The secret: one line, surrounding blanks and the newline dropped. */
static int parse_secret(unsigned char out[AUTH_SECRET_MAX], size_t *len, const char *text, size_t n, const char *source)
{
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    while (n && (*text == ' ' || *text == '\t'))
        text++, n--;
    if (n < 16)
        return err_set(ERR_INVALID, "%s: a token secret needs at least 16 characters", source);
    if (n > AUTH_SECRET_MAX || memchr(text, '\n', n))
        return err_set(ERR_INVALID, "%s: a token secret is one line of at most %d characters", source, AUTH_SECRET_MAX);
    memcpy(out, text, n);
    *len = n;
    return 0;
}

static int reload_secret(struct auth *a)
{
    struct buf text;
    buf_init(&text, 64 * 1024);
    unsigned char secret[AUTH_SECRET_MAX];
    size_t len = 0;
    int rc = buf_read_file(&text, a->secret_file);
    if (!rc)
        rc = parse_secret(secret, &len, text.data ? text.data : "", text.len, a->secret_file);
    buf_release(&text);
    if (rc)
        return rc;
    pthread_rwlock_wrlock(&a->lock);
    memcpy(a->secret, secret, len);
    a->secret_len = len;
    pthread_rwlock_unlock(&a->lock);
    memset(secret, 0, sizeof secret);
    return 0;
}

int auth_init_token(struct auth *a, const char *secret_text, const char *secret_file)
{
    int given = (secret_file && secret_file[0]) || (secret_text && secret_text[0]);
    if (given && a->n_keys)
        return err_set(ERR_INVALID, "token auth and key auth cannot be combined (as in Azure ML): give keys or a "
                                    "token secret, not both");
    if (secret_file && secret_file[0]) {
        a->secret_file = secret_file;
        return reload_secret(a);
    }
    if (secret_text && secret_text[0])
        return parse_secret(a->secret, &a->secret_len, secret_text, strlen(secret_text), "AMLSERVE_TOKEN_SECRET");
    return 0;
}

int auth_enabled(struct auth *a)
{
    pthread_rwlock_rdlock(&a->lock);
    int on = a->n_keys > 0 || a->secret_len > 0;
    pthread_rwlock_unlock(&a->lock);
    return on;
}

int auth_reload(struct auth *a)
{
    if (a->secret_file)
        return reload_secret(a);
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

int auth_check(struct auth *a, const char *authorization, struct arena *arena, const char **why)
{
    int tokens = a->secret_len > 0;
    *why = tokens ? "send 'Authorization: Bearer <token>' with a valid token"
                  : "send 'Authorization: Bearer <key>' with a valid key";
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t len = strlen(given);
    while (len && given[len - 1] == ' ')
        len--;
    if (tokens) {
        unsigned char secret[AUTH_SECRET_MAX];
        pthread_rwlock_rdlock(&a->lock);
        size_t secret_len = a->secret_len;
        memcpy(secret, a->secret, secret_len);
        pthread_rwlock_unlock(&a->lock);
        enum jwt_result r = jwt_verify_hs256(given, len, secret, secret_len, (long long)time(NULL), arena);
        memset(secret, 0, sizeof secret);
        if (r != JWT_OK)
            *why = jwt_result_text(r);
        return r == JWT_OK;
    }
    if (len > AUTH_KEY_MAX)
        return 0;
    int ok = 0;
    pthread_rwlock_rdlock(&a->lock);
    for (int i = 0; i < a->n_keys; i++)
        ok |= same_secret(given, len, a->keys[i]);
    pthread_rwlock_unlock(&a->lock);
    return ok;
}
