/* TLS termination without the event loop: certificates made here with
 * OpenSSL, a client SSL on the other end of a non-blocking socketpair, and
 * both sides stepped by hand so every WANT_READ/WANT_WRITE turn is taken. */
#include "test.h"

#include "common/err.h"
#include "runtime/tls.h"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[] = "/tmp/amlserve-tls-test.XXXXXX";
static char cert_path[256], key_path[256], other_key_path[256];

static int write_key(const char *path, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    int ok = f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

/* A self-signed P-256 certificate with the given serial, and its key. */
static int make_cert(const char *cert_file, const char *key_file, long serial)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    int ok = X509_sign(x, key, EVP_sha256()) > 0;
    FILE *f = fopen(cert_file, "w");
    ok = ok && f && PEM_write_X509(f, x) == 1;
    if (f)
        fclose(f);
    ok = ok && write_key(key_file, key) == 0;
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A TLS client on fds[1] against a tls_conn on fds[0], both non-blocking. */
struct pair {
    int fds[2];
    SSL_CTX *client_ctx;
    SSL *client;
    struct tls_conn *server;
};

static int pair_open(struct pair *p, struct tls_server *t, int max_version)
{
    memset(p, 0, sizeof *p);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fds) != 0)
        return -1;
    p->client_ctx = SSL_CTX_new(TLS_client_method());
    if (max_version)
        SSL_CTX_set_max_proto_version(p->client_ctx, max_version);
    /* TLS 1.1 needs SHA-1 signatures, which the default security level refuses. */
    SSL_CTX_set_security_level(p->client_ctx, 0);
    p->client = SSL_new(p->client_ctx);
    SSL_set_fd(p->client, p->fds[1]);
    SSL_set_connect_state(p->client);
    return tls_conn_new(&p->server, t, p->fds[0]);
}

static void pair_close(struct pair *p)
{
    tls_conn_free(p->server);
    SSL_free(p->client);
    SSL_CTX_free(p->client_ctx);
    close(p->fds[0]);
    close(p->fds[1]);
}

/* Steps both handshakes until the client is through; returns the server's
 * last result from reading (TLS_WANT_READ once it waits for data). */
static ssize_t handshake(struct pair *p, int *client_ok)
{
    char b[64];
    ssize_t last = 0;
    *client_ok = 0;
    for (int i = 0; i < 50; i++) {
        int r = SSL_do_handshake(p->client);
        if (r == 1)
            *client_ok = 1;
        else if (SSL_get_error(p->client, r) != SSL_ERROR_WANT_READ)
            return tls_conn_read(p->server, b, sizeof b);
        last = tls_conn_read(p->server, b, sizeof b);
        if (*client_ok || last == TLS_FAILED)
            return last;
    }
    return last;
}

static struct tls_server *server;

TEST(a_missing_certificate_names_the_file)
{
    struct tls_server *t = NULL;
    err_clear();
    int rc = tls_server_new(&t, "/nonexistent/cert.pem", key_path);
    CHECK(rc != 0 && t == NULL);
    CHECK(strstr(err_message(rc), "tls certificate '/nonexistent/cert.pem': cannot open") != NULL);
}

TEST(a_key_for_another_certificate_is_refused)
{
    struct tls_server *t = NULL;
    err_clear();
    int rc = tls_server_new(&t, cert_path, other_key_path);
    CHECK(rc != 0);
    CHECK(strstr(err_message(rc), "does not match the certificate") != NULL);
    CHECK(strstr(err_message(rc), other_key_path) != NULL);
}

TEST(a_file_without_pem_is_refused)
{
    char junk[300];
    snprintf(junk, sizeof junk, "%s/junk.pem", dir);
    write_text(junk, "not a certificate\n");
    struct tls_server *t = NULL;
    err_clear();
    int rc = tls_server_new(&t, junk, key_path);
    CHECK(rc != 0 && strstr(err_message(rc), "no PEM certificate") != NULL);
    err_clear();
    rc = tls_server_new(&t, cert_path, junk);
    CHECK(rc != 0 && strstr(err_message(rc), "no PEM private key") != NULL);
    err_clear();
}

TEST(handshake_then_data_both_ways)
{
    struct pair p;
    CHECK_EQ_INT(pair_open(&p, server, 0), 0);
    char b[64];
    /* Nothing sent yet: the server waits without blocking. */
    CHECK_EQ_INT(tls_conn_read(p.server, b, sizeof b), TLS_WANT_READ);
    int client_ok;
    CHECK_EQ_INT(handshake(&p, &client_ok), TLS_WANT_READ);
    CHECK(client_ok);
    CHECK_STR(SSL_get_version(p.client), "TLSv1.3");
    CHECK(SSL_write(p.client, "ping", 4) == 4);
    ssize_t n = tls_conn_read(p.server, b, sizeof b);
    CHECK_EQ_INT(n, 4);
    CHECK(memcmp(b, "ping", 4) == 0);
    CHECK_EQ_INT(tls_conn_write(p.server, "pong", 4), 4);
    /* The client first takes the session tickets, then the data. */
    int got = 0;
    for (int i = 0; i < 10 && got <= 0; i++)
        got = SSL_read(p.client, b, sizeof b);
    CHECK_EQ_INT(got, 4);
    CHECK(memcmp(b, "pong", 4) == 0);
    SSL_shutdown(p.client);
    CHECK_EQ_INT(tls_conn_read(p.server, b, sizeof b), 0);
    pair_close(&p);
}

/* A small socket buffer forces partial writes and WANT_WRITE; the rest goes
 * out when retried from where the buffer has moved to. */
TEST(large_writes_resume_after_want_write)
{
    struct pair p;
    CHECK_EQ_INT(pair_open(&p, server, 0), 0);
    int small = 4096;
    setsockopt(p.fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    int client_ok;
    handshake(&p, &client_ok);
    CHECK(client_ok);
    size_t total = 1u << 20, sent = 0, received = 0;
    unsigned char *data = malloc(total), *back = malloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (unsigned char)(i * 7);
    int saw_want_write = 0;
    while (received < total) {
        if (sent < total) {
            /* Copy the rest to a fresh buffer each time: the write must accept a moved buffer. */
            unsigned char *moved = malloc(total - sent);
            memcpy(moved, data + sent, total - sent);
            ssize_t n = tls_conn_write(p.server, moved, total - sent);
            free(moved);
            if (n == TLS_WANT_WRITE)
                saw_want_write = 1;
            else if (n > 0)
                sent += (size_t)n;
            else
                break;
        }
        int r = SSL_read(p.client, back + received, (int)(total - received));
        if (r > 0)
            received += (size_t)r;
    }
    CHECK_EQ_INT(received, total);
    CHECK(saw_want_write);
    CHECK(memcmp(data, back, total) == 0);
    free(data);
    free(back);
    pair_close(&p);
}

TEST(tls_1_1_clients_are_refused)
{
    struct pair p;
    CHECK_EQ_INT(pair_open(&p, server, TLS1_1_VERSION), 0);
    int client_ok;
    CHECK_EQ_INT(handshake(&p, &client_ok), TLS_FAILED);
    CHECK(!client_ok);
    pair_close(&p);
}

TEST(plain_http_is_recognised)
{
    struct pair p;
    CHECK_EQ_INT(pair_open(&p, server, 0), 0);
    CHECK(write(p.fds[1], "GET / HTTP/1.1\r\n\r\n", 18) == 18);
    char b[64];
    CHECK_EQ_INT(tls_conn_read(p.server, b, sizeof b), TLS_NOT_TLS);
    pair_close(&p);
}

TEST(reload_swaps_the_certificate_and_keeps_it_on_error)
{
    char serial[64];
    tls_server_serial(server, serial, sizeof serial);
    CHECK_STR(serial, "01");
    CHECK_EQ_INT(make_cert(cert_path, key_path, 2), 0);
    CHECK_EQ_INT(tls_server_reload(server), 0);
    tls_server_serial(server, serial, sizeof serial);
    CHECK_STR(serial, "02");
    write_text(cert_path, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
    err_clear();
    CHECK(tls_server_reload(server) != 0);
    err_clear();
    tls_server_serial(server, serial, sizeof serial);
    CHECK_STR(serial, "02");
    /* New connections still complete with the kept certificate. */
    struct pair p;
    CHECK_EQ_INT(pair_open(&p, server, 0), 0);
    int client_ok;
    handshake(&p, &client_ok);
    CHECK(client_ok);
    X509 *peer = SSL_get1_peer_certificate(p.client);
    CHECK(peer && ASN1_INTEGER_get(X509_get0_serialNumber(peer)) == 2);
    X509_free(peer);
    pair_close(&p);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    snprintf(other_key_path, sizeof other_key_path, "%s/other-key.pem", dir);
    char other_cert[300];
    snprintf(other_cert, sizeof other_cert, "%s/other.pem", dir);
    if (make_cert(cert_path, key_path, 1) || make_cert(other_cert, other_key_path, 9) ||
        tls_server_new(&server, cert_path, key_path)) {
        printf("FAIL setup: %s\n", err_message(ERR_IO));
        return 1;
    }
    RUN(a_missing_certificate_names_the_file);
    RUN(a_key_for_another_certificate_is_refused);
    RUN(a_file_without_pem_is_refused);
    RUN(handshake_then_data_both_ways);
    RUN(large_writes_resume_after_want_write);
    RUN(tls_1_1_clients_are_refused);
    RUN(plain_http_is_recognised);
    RUN(reload_swaps_the_certificate_and_keeps_it_on_error);
    tls_server_free(server);
    static const char *const names[] = {"cert.pem", "key.pem", "other.pem", "other-key.pem", "junk.pem"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return test_failures != 0;
}
