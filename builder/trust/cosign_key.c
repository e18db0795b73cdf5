#include "builder/trust/cosign_key.h"

#include "common/arena.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/json.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const labels[] = {"ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"};

/* The body of the first cosign PEM block in text: [*body, *end). */
static int find_block(const char **body, const char **end, const char *text, size_t len)
{
    for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
        char begin[80], stop[80];
        snprintf(begin, sizeof begin, "-----BEGIN %s-----", labels[i]);
        snprintf(stop, sizeof stop, "-----END %s-----", labels[i]);
        const char *b = memmem(text, len, begin, strlen(begin));
        if (!b)
            continue;
        b += strlen(begin);
        const char *e = memmem(b, len - (size_t)(b - text), stop, strlen(stop));
        if (!e)
            return 0;
        *body = b;
        *end = e;
        return 1;
    }
    return 0;
}

int cosign_key_is(const char *text, size_t len)
{
    const char *b, *e;
    return find_block(&b, &e, text, len) || memmem(text, len, "SIGSTORE PRIVATE KEY-----", 25) ||
           memmem(text, len, "COSIGN PRIVATE KEY-----", 23);
}

/* A base64 string member of obj decoded into out (exactly want bytes when want, else at most cap). */
static int member_bytes(unsigned char *out, size_t cap, size_t *got, size_t want, const struct json_value *obj,
                        const char *field, const char *what)
{
    const struct json_value *v = obj && obj->type == JSON_OBJECT ? json_member(obj, strrchr(field, '.') + 1) : NULL;
    if (!v || v->type != JSON_STRING)
        return err_set(ERR_PARSE, "%s: %s: a base64 string is required", what, field);
    if (BASE64_DECODED_MAX(v->as.string.len) > cap + 2)
        return err_set(ERR_LIMIT, "%s:%d: %s: longer than %zu bytes", what, v->line, field, cap);
    unsigned char tmp[COSIGN_KEY_CIPHERTEXT_MAX + 4];
    long n = base64_decode(tmp, v->as.string.ptr, v->as.string.len);
    if (n < 0 || (size_t)n > cap || (want && (size_t)n != want)) {
        OPENSSL_cleanse(tmp, sizeof tmp);
        return err_set(ERR_PARSE, "%s:%d: %s: not base64 of %s%zu bytes", what, v->line, field, want ? "" : "at most ",
                       want ? want : cap);
    }
    memcpy(out, tmp, (size_t)n);
    *got = (size_t)n;
    return 0;
}

static int param(uint64_t *out, const struct json_value *params, const char *key, uint64_t max, const char *what)
{
    const struct json_value *v = params ? json_member(params, key) : NULL;
    if (!v || v->type != JSON_NUMBER || v->as.number < 1 || v->as.number > (double)max ||
        v->as.number != (double)(uint64_t)v->as.number)
        return err_set(ERR_UNSUPPORTED, "%s: kdf.params.%s: an integer from 1 to %llu is required", what, key,
                       (unsigned long long)max);
    *out = (uint64_t)v->as.number;
    return 0;
}

static int name_is(const struct json_value *obj, const char *want, const char *field, const char *what)
{
    const struct json_value *v = obj && obj->type == JSON_OBJECT ? json_member(obj, "name") : NULL;
    if (!v || v->type != JSON_STRING || strcmp(v->as.string.ptr, want))
        return err_set(ERR_UNSUPPORTED, "%s: %s.name: '%s' is not supported (only %s)", what, field,
                       v && v->type == JSON_STRING ? v->as.string.ptr : "", want);
    return 0;
}

int cosign_key_parse(struct cosign_key_box *out, const char *text, size_t len, const char *what)
{
    memset(out, 0, sizeof *out);
    const char *body, *end;
    if (!find_block(&body, &end, text, len))
        return err_set(ERR_PARSE, "%s: no -----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY----- block with its END line", what);
    /* PEM's base64 is wrapped in lines: the whitespace goes before decoding. */
    size_t n = (size_t)(end - body);
    char *b64 = malloc(n + 1);
    unsigned char *json = malloc(BASE64_DECODED_MAX(n) + 1);
    struct arena arena;
    arena_init(&arena, 8192, 1u << 20);
    struct json_value *root = NULL;
    int rc = b64 && json ? 0 : err_set(ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (body[i] != '\n' && body[i] != '\r' && body[i] != ' ' && body[i] != '\t')
            b64[k++] = body[i];
    long jlen = rc ? -1 : base64_decode(json, b64, k);
    if (!rc && jlen < 0)
        rc = err_set(ERR_PARSE, "%s: the PEM body is not base64", what);
    if (rc || (rc = json_parse(&root, &arena, (const char *)json, (size_t)jlen, what)))
        goto done;
    const struct json_value *kdf = root->type == JSON_OBJECT ? json_member(root, "kdf") : NULL;
    const struct json_value *cipher = root->type == JSON_OBJECT ? json_member(root, "cipher") : NULL;
    const struct json_value *params = kdf && kdf->type == JSON_OBJECT ? json_member(kdf, "params") : NULL;
    size_t got = 0;
    if ((rc = name_is(kdf, "scrypt", "kdf", what)) || (rc = name_is(cipher, "nacl/secretbox", "cipher", what)) ||
        (rc = param(&out->n, params, "N", 1u << 18, what)) || (rc = param(&out->r, params, "r", 16, what)) ||
        (rc = param(&out->p, params, "p", 16, what)))
        goto done;
    if (out->n < 2 || (out->n & (out->n - 1))) {
        rc = err_set(ERR_PARSE, "%s: kdf.params.N: %llu is not a power of two", what, (unsigned long long)out->n);
        goto done;
    }
    if ((rc = member_bytes(out->salt, sizeof out->salt, &out->salt_len, 0, kdf, "kdf.salt", what)) ||
        (rc = member_bytes(out->nonce, sizeof out->nonce, &got, SECRETBOX_NONCE_BYTES, cipher, "cipher.nonce", what)) ||
        (rc = member_bytes(out->ciphertext, sizeof out->ciphertext, &out->ciphertext_len, 0, root, ".ciphertext",
                           what)))
        goto done;
    if (out->ciphertext_len <= SECRETBOX_TAG_BYTES)
        rc = err_set(ERR_PARSE, "%s: ciphertext: %zu bytes, no room for a key", what, out->ciphertext_len);
done:
    arena_release(&arena);
    if (json)
        OPENSSL_cleanse(json, BASE64_DECODED_MAX(n) + 1);
    free(json);
    free(b64);
    return rc;
}

int cosign_key_open(struct buf *der, const struct cosign_key_box *box, const char *pass, const char *what)
{
    unsigned char key[SECRETBOX_KEY_BYTES];
    unsigned char *plain = malloc(box->ciphertext_len);
    size_t len = box->ciphertext_len - SECRETBOX_TAG_BYTES;
    int rc = plain ? 0 : err_set(ERR_NOMEM, "out of memory");
    /* The memory cap leaves room for the largest parameters parse accepts (2^18 * 16 * 128 bytes). */
    if (!rc && EVP_PBE_scrypt(pass, strlen(pass), box->salt, box->salt_len, box->n, box->r, box->p,
                              (uint64_t)1 << 30, key, sizeof key) != 1)
        rc = err_set(ERR_UNSUPPORTED, "%s: scrypt (N=%llu, r=%llu, p=%llu) failed in OpenSSL", what,
                     (unsigned long long)box->n, (unsigned long long)box->r, (unsigned long long)box->p);
    if (!rc && secretbox_open(plain, box->ciphertext, box->ciphertext_len, box->nonce, key)) {
        err_clear();
        rc = err_set(ERR_MISMATCH, "%s: wrong passphrase, or the encrypted key is damaged", what);
    }
    rc = rc ? rc : buf_append(der, plain, len);
    OPENSSL_cleanse(key, sizeof key);
    if (plain)
        OPENSSL_cleanse(plain, box->ciphertext_len);
    free(plain);
    return rc;
}

/* base64 of in[0..len) as a JSON string value into b. */
static int append_base64(struct buf *b, const unsigned char *in, size_t len)
{
    char *text = malloc(BASE64_ENCODED_SIZE(len));
    if (!text)
        return err_set(ERR_NOMEM, "out of memory");
    size_t n = base64_encode(text, in, len);
    int rc = buf_appendf(b, "\"%.*s\"", (int)n, text);
    free(text);
    return rc;
}

int cosign_key_seal(struct buf *pem, const unsigned char *der, size_t len, const char *pass)
{
    enum { N = 32768, R = 8, P = 1, SALT = 32 };
    unsigned char salt[SALT], nonce[SECRETBOX_NONCE_BYTES], key[SECRETBOX_KEY_BYTES];
    unsigned char *box = malloc(len + SECRETBOX_TAG_BYTES);
    struct buf json;
    buf_init(&json, 0);
    int rc = box ? 0 : err_set(ERR_NOMEM, "out of memory");
    if (!rc && (RAND_bytes(salt, sizeof salt) != 1 || RAND_bytes(nonce, sizeof nonce) != 1))
        rc = err_set(ERR_INVALID, "keygen: no random bytes from OpenSSL");
    if (!rc && EVP_PBE_scrypt(pass, strlen(pass), salt, sizeof salt, N, R, P, (uint64_t)1 << 30, key, sizeof key) != 1)
        rc = err_set(ERR_UNSUPPORTED, "keygen: scrypt failed in OpenSSL");
    rc = rc ? rc : secretbox_seal(box, der, len, nonce, key);
    rc = rc ? rc : buf_appendf(&json, "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":%d,\"r\":%d,\"p\":%d},\"salt\":", N, R, P);
    rc = rc ? rc : append_base64(&json, salt, sizeof salt);
    rc = rc ? rc : buf_append_str(&json, "},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":");
    rc = rc ? rc : append_base64(&json, nonce, sizeof nonce);
    rc = rc ? rc : buf_append_str(&json, "},\"ciphertext\":");
    rc = rc ? rc : append_base64(&json, box, len + SECRETBOX_TAG_BYTES);
    rc = rc ? rc : buf_append_str(&json, "}");
    char *b64 = rc ? NULL : malloc(BASE64_ENCODED_SIZE(json.len));
    if (!rc && !b64)
        rc = err_set(ERR_NOMEM, "out of memory");
    size_t n = rc ? 0 : base64_encode(b64, json.data, json.len);
    rc = rc ? rc : buf_appendf(pem, "-----BEGIN %s-----\n", labels[0]);
    for (size_t i = 0; !rc && i < n; i += 64) /* PEM's lines of 64 */
        rc = buf_appendf(pem, "%.*s\n", (int)(n - i < 64 ? n - i : 64), b64 + i);
    rc = rc ? rc : buf_appendf(pem, "-----END %s-----\n", labels[0]);
    OPENSSL_cleanse(key, sizeof key);
    free(b64);
    free(box);
    buf_release(&json);
    return rc;
}
