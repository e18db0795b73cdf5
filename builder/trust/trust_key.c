#include "builder/trust/trust_key.h"

#include "builder/trust/cosign_key.h"
#include "common/err.h"
#include "common/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define KEY_FILE_LIMIT (64u << 10)
#define PASSWORD_MAX 1024

const char *trust_algorithm_name(enum trust_algorithm a)
{
    return a == TRUST_ED25519 ? "ed25519" : "ecdsa-p256";
}

int trust_algorithm_parse(enum trust_algorithm *out, const char *name)
{
    if (!strcmp(name, "ecdsa-p256") || !strcmp(name, "ecdsa") || !strcmp(name, "p256"))
        *out = TRUST_ECDSA_P256;
    else if (!strcmp(name, "ed25519"))
        *out = TRUST_ED25519;
    else
        return err_set(ERR_USAGE, "--algorithm: unknown algorithm '%s' (ecdsa-p256 or ed25519)", name);
    return 0;
}

/* Reads a passphrase from the terminal with echo off; "" when there is no terminal. */
static int prompt_password(char *out, size_t size, const char *prompt)
{
    out[0] = '\0';
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return 0;
    struct termios old, quiet;
    int have_termios = tcgetattr(fd, &old) == 0;
    if (!have_termios) {
        close(fd);
        return 0;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSANOW, &quiet) != 0) {
        close(fd);
        return err_set_errno(ERR_IO, "/dev/tty: cannot prompt for the passphrase");
    }
    size_t n = 0;
    char c;
    while (read(fd, &c, 1) == 1 && c != '\n' && c != '\r')
        if (n + 1 < size)
            out[n++] = c;
    out[n] = '\0';
    tcsetattr(fd, TCSANOW, &old);
    if (write(fd, "\n", 1) < 0) {
        /* the newline is cosmetic */
    }
    close(fd);
    return 0;
}

/* The passphrase: AMLPKG_SIGNING_PASSWORD when set (even empty), else a
 * prompt (twice when confirm, for a new key), else "". */
static int get_password(char *out, size_t size, int confirm)
{
    const char *env = getenv(TRUST_PASSWORD_ENV);
    if (env) {
        if (strlen(env) >= size)
            return err_set(ERR_LIMIT, "%s: longer than %zu bytes", TRUST_PASSWORD_ENV, size - 1);
        snprintf(out, size, "%s", env);
        return 0;
    }
    int rc = prompt_password(out, size, confirm ? "passphrase for the new private key: " : "passphrase: ");
    if (rc || !confirm || !out[0])
        return rc;
    char again[PASSWORD_MAX];
    if ((rc = prompt_password(again, sizeof again, "again: ")))
        return rc;
    if (strcmp(again, out))
        rc = err_set(ERR_MISMATCH, "the passphrases do not match");
    OPENSSL_cleanse(again, sizeof again);
    return rc;
}

static const char *openssl_reason(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : fallback;
}

/* The key's algorithm, or an error for anything but P-256 and Ed25519. */
static int classify(struct trust_key *k, const char *path)
{
    EVP_PKEY *p = k->pkey;
    int id = EVP_PKEY_get_base_id(p);
    if (id == EVP_PKEY_ED25519) {
        k->algorithm = TRUST_ED25519;
    } else if (id == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_get_group_name(p, group, sizeof group, &glen) != 1 || strcmp(group, "prime256v1"))
            return err_set(ERR_UNSUPPORTED, "%s: unsupported curve '%s' (amlpkg signs with P-256 or Ed25519)", path,
                           group[0] ? group : "unknown");
        k->algorithm = TRUST_ECDSA_P256;
    } else {
        return err_set(ERR_UNSUPPORTED, "%s: unsupported key type (amlpkg signs with ECDSA P-256 or Ed25519)", path);
    }
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(p, &der);
    if (n <= 0)
        return err_set(ERR_INVALID, "%s: cannot encode the public key (%s)", path, openssl_reason("unknown"));
    unsigned char h[SHA256_BYTES];
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, der, (size_t)n);
    sha256_final(&s, h);
    OPENSSL_free(der);
    int off = snprintf(k->key_id, sizeof k->key_id, "sha256:");
    for (int i = 0; i < SHA256_BYTES; i++)
        off += snprintf(k->key_id + off, sizeof k->key_id - (size_t)off, "%02x", h[i]);
    return 0;
}

struct password_ctx {
    const char *path;
    int asked;
    int rc;
    char pass[PASSWORD_MAX];
};

/* Asked by OpenSSL only for an encrypted key: the passphrase is fetched then. */
static int password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    struct password_ctx *p = u;
    if (!p->asked) {
        p->asked = 1;
        p->rc = get_password(p->pass, sizeof p->pass, 0);
    }
    size_t n = strlen(p->pass);
    if (p->rc || n == 0 || n >= (size_t)size)
        return -1;
    memcpy(buf, p->pass, n);
    return (int)n;
}

/* cosign's own encrypted key (cosign_key.h). Its passphrase: AMLPKG_SIGNING_PASSWORD, else cosign's
 * COSIGN_PASSWORD, else the terminal, else "" (cosign encrypts under an empty passphrase too). */
static int load_cosign(struct trust_key *k, const struct buf *file, const char *path)
{
    static struct cosign_key_box box; /* 16 KiB: kept off the stack */
    struct buf der;
    buf_init(&der, 0);
    char pass[PASSWORD_MAX] = "";
    const char *cosign_env = getenv("COSIGN_PASSWORD");
    int rc = cosign_key_parse(&box, file->data, file->len, path);
    if (!rc && !getenv(TRUST_PASSWORD_ENV) && cosign_env) {
        if (strlen(cosign_env) >= sizeof pass)
            rc = err_set(ERR_LIMIT, "COSIGN_PASSWORD: longer than %zu bytes", sizeof pass - 1);
        else
            snprintf(pass, sizeof pass, "%s", cosign_env);
    } else if (!rc) {
        rc = get_password(pass, sizeof pass, 0);
    }
    rc = rc ? rc : cosign_key_open(&der, &box, pass, path);
    if (rc == ERR_MISMATCH && !pass[0]) {
        err_clear();
        rc = err_set(ERR_INVALID, "%s: cosign's key is encrypted; set %s (or COSIGN_PASSWORD) or run on a terminal",
                     path, TRUST_PASSWORD_ENV);
    }
    const unsigned char *p = (const unsigned char *)der.data;
    if (!rc && !(k->pkey = d2i_AutoPrivateKey(NULL, &p, (long)der.len)))
        rc = err_set(ERR_INVALID, "%s: the decrypted cosign key is not a PKCS#8 private key (%s)", path,
                     openssl_reason("malformed"));
    k->is_private = !rc;
    OPENSSL_cleanse(pass, sizeof pass);
    OPENSSL_cleanse(&box, sizeof box);
    if (der.data)
        OPENSSL_cleanse(der.data, der.len);
    buf_release(&der);
    return rc;
}

static int load(struct trust_key **out, const char *path, int want_private)
{
    *out = NULL;
    struct buf b;
    buf_init(&b, KEY_FILE_LIMIT);
    struct password_ctx pw = {.path = path};
    struct trust_key *k = calloc(1, sizeof *k);
    BIO *bio = NULL;
    int rc = k ? buf_read_file(&b, path) : err_set(ERR_NOMEM, "out of memory");
    if (rc)
        goto done;
    if (cosign_key_is(b.data, b.len)) {
        rc = load_cosign(k, &b, path);
        goto classify;
    }
    int has_private = memmem(b.data, b.len, "PRIVATE KEY-----", 16) != NULL;
    if (want_private && !has_private) {
        rc = err_set(ERR_INVALID, "%s: no PEM private key in it (expected -----BEGIN [ENCRYPTED] PRIVATE KEY-----)",
                     path);
        goto done;
    }
    if (!(bio = BIO_new_mem_buf(b.data, (int)b.len))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    ERR_clear_error();
    if (has_private) {
        k->pkey = PEM_read_bio_PrivateKey(bio, NULL, password_cb, &pw);
        k->is_private = 1;
        if (!k->pkey && pw.rc) {
            rc = pw.rc;
            goto done;
        }
        if (!k->pkey && pw.asked && !pw.pass[0]) {
            rc = err_set(ERR_INVALID, "%s: the private key is encrypted; set %s or run on a terminal", path,
                         TRUST_PASSWORD_ENV);
            goto done;
        }
        if (!k->pkey && pw.asked) {
            rc = err_set(ERR_INVALID, "%s: wrong passphrase, or the encrypted key is damaged (%s)", path,
                         openssl_reason("bad decrypt"));
            goto done;
        }
    } else {
        k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    if (!k->pkey) {
        rc = err_set(ERR_INVALID, "%s: not a PEM %s key OpenSSL can read (%s)", path,
                     has_private ? "private" : "public", openssl_reason("malformed"));
        goto done;
    }
classify:
    rc = rc ? rc : classify(k, path);
done:
    OPENSSL_cleanse(pw.pass, sizeof pw.pass);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    buf_release(&b);
    if (bio)
        BIO_free(bio);
    if (rc) {
        trust_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int trust_key_load_private(struct trust_key **out, const char *path)
{
    return load(out, path, 1);
}

int trust_key_load_public(struct trust_key **out, const char *path)
{
    int rc = load(out, path, 0);
    if (!rc)
        (*out)->is_private = 0;
    return rc;
}

void trust_key_free(struct trust_key *key)
{
    if (!key)
        return;
    if (key->pkey)
        EVP_PKEY_free(key->pkey);
    free(key);
}

int trust_sign(struct buf *out, const struct trust_key *key, const void *data, size_t len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sig_len = 0;
    int rc = ctx ? 0 : err_set(ERR_NOMEM, "out of memory");
    const EVP_MD *md = key->algorithm == TRUST_ECDSA_P256 ? EVP_sha256() : NULL;
    if (!rc && (EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey) != 1 ||
                EVP_DigestSign(ctx, NULL, &sig_len, data, len) != 1))
        rc = err_set(ERR_INVALID, "sign: %s", openssl_reason("the key cannot sign"));
    if (!rc && !(rc = buf_reserve(out, sig_len))) {
        if (EVP_DigestSign(ctx, (unsigned char *)out->data + out->len, &sig_len, data, len) != 1)
            rc = err_set(ERR_INVALID, "sign: %s", openssl_reason("signing failed"));
        else
            out->len += sig_len;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

int trust_verify(const struct trust_key *key, const void *data, size_t len, const void *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return err_set(ERR_NOMEM, "out of memory");
    const EVP_MD *md = key->algorithm == TRUST_ECDSA_P256 ? EVP_sha256() : NULL;
    int rc = 0;
    if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, key->pkey) != 1)
        rc = err_set(ERR_INVALID, "verify: %s", openssl_reason("the key cannot verify"));
    else if (EVP_DigestVerify(ctx, sig, sig_len, data, len) != 1)
        rc = err_set(ERR_MISMATCH, "the signature does not verify with key %s", key->key_id);
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* PEM text of key (private: PKCS#8, encrypted when pass is not empty) into out. */
static int pem_text(struct buf *out, EVP_PKEY *pkey, int private_half, const char *pass)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return err_set(ERR_NOMEM, "out of memory");
    int ok = private_half ? PEM_write_bio_PKCS8PrivateKey(bio, pkey, pass[0] ? EVP_aes_256_cbc() : NULL, pass,
                                                          (int)strlen(pass), NULL, NULL)
                          : PEM_write_bio_PUBKEY(bio, pkey);
    char *data = NULL;
    long n = ok ? BIO_get_mem_data(bio, &data) : 0;
    int rc = ok && n > 0 ? buf_append(out, data, (size_t)n)
                         : err_set(ERR_INVALID, "keygen: cannot write the key (%s)", openssl_reason("unknown"));
    if (data && n > 0)
        OPENSSL_cleanse(data, (size_t)n);
    BIO_free(bio);
    return rc;
}

/* Creates path with mode (never following or replacing a file unless force) and writes b. */
static int write_key_file(const char *path, const struct buf *b, mode_t mode, int force)
{
    if (force && unlink(path) != 0 && errno != ENOENT)
        return err_set_errno(ERR_IO, "%s: cannot replace", path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return errno == EEXIST ? err_set(ERR_EXISTS, "%s: exists already (--force replaces it)", path)
                               : err_set_errno(ERR_IO, "%s: cannot create", path);
    int rc = 0;
    /* The umask may have taken bits away, never added any; make the mode exact. */
    if (fchmod(fd, mode) != 0 || write(fd, b->data, b->len) != (ssize_t)b->len || fsync(fd) != 0)
        rc = err_set_write(ERR_IO, "%s: write failed", path);
    close(fd);
    if (rc)
        unlink(path);
    return rc;
}

/* cosign's form of the private key: its PKCS#8 DER sealed with pass (cosign_key.h). */
static int cosign_text(struct buf *out, EVP_PKEY *pkey, const char *pass)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    unsigned char *der = NULL;
    int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    int rc = len > 0 ? cosign_key_seal(out, der, (size_t)len, pass)
                     : err_set(ERR_INVALID, "keygen: %s", openssl_reason("cannot encode the key"));
    if (der)
        OPENSSL_clear_free(der, (size_t)len);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

int trust_keygen(const char *prefix, enum trust_algorithm algorithm, enum trust_key_format format, int force)
{
    char key_path[4096], pub_path[4096], pass[PASSWORD_MAX] = "";
    struct buf priv, pub;
    buf_init(&priv, 0);
    buf_init(&pub, 0);
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int rc = 0;
    if ((size_t)snprintf(key_path, sizeof key_path, "%s.key", prefix) >= sizeof key_path ||
        (size_t)snprintf(pub_path, sizeof pub_path, "%s.pub", prefix) >= sizeof pub_path) {
        rc = err_set(ERR_LIMIT, "keygen: the path prefix is too long");
        goto done;
    }
    if (!force && (access(key_path, F_OK) == 0 || access(pub_path, F_OK) == 0)) {
        rc = err_set(ERR_EXISTS, "%s: exists already (--force replaces it)",
                     access(key_path, F_OK) == 0 ? key_path : pub_path);
        goto done;
    }
    if ((rc = get_password(pass, sizeof pass, 1)))
        goto done;
    ctx = EVP_PKEY_CTX_new_id(algorithm == TRUST_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_EC, NULL);
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 ||
        (algorithm == TRUST_ECDSA_P256 && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) != 1) ||
        EVP_PKEY_keygen(ctx, &pkey) != 1) {
        rc = err_set(ERR_INVALID, "keygen: %s", openssl_reason("key generation failed"));
        goto done;
    }
    if ((rc = format == TRUST_KEY_COSIGN ? cosign_text(&priv, pkey, pass) : pem_text(&priv, pkey, 1, pass)) ||
        (rc = pem_text(&pub, pkey, 0, "")))
        goto done;
    if ((rc = write_key_file(key_path, &priv, 0600, force)))
        goto done;
    if ((rc = write_key_file(pub_path, &pub, 0644, force)))
        unlink(key_path);
done:
    OPENSSL_cleanse(pass, sizeof pass);
    if (priv.data)
        OPENSSL_cleanse(priv.data, priv.len);
    buf_release(&priv);
    buf_release(&pub);
    if (ctx)
        EVP_PKEY_CTX_free(ctx);
    if (pkey)
        EVP_PKEY_free(pkey);
    return rc;
}
