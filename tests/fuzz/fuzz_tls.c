/* libFuzzer target: what a client may send to amlserve's TLS port, through
 * tls_conn_read on a non-blocking socketpair: garbage, truncated or
 * malformed handshakes, and plain HTTP. The wrapper must end every input with
 * a result code and never crash or block. The certificate is made once. */
#include "fuzz_files.h"
#include "runtime/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct tls_server *server;

static int setup(void)
{
    char cert_path[512], key_path[512];
    fuzz_path(cert_path, "tls.crt");
    fuzz_path(key_path, "tls.key");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    FILE *c = fopen(cert_path, "w"), *k = fopen(key_path, "w");
    int ok = c && k && PEM_write_X509(c, x) == 1 && PEM_write_PrivateKey(k, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (c)
        fclose(c);
    if (k)
        fclose(k);
    X509_free(x);
    EVP_PKEY_free(key);
    ok = ok && tls_server_new(&server, cert_path, key_path) == 0;
    unlink(cert_path);
    unlink(key_path);
    return ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server && setup() != 0)
        abort();
    int fds[2];
    if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0)
        return 0;
    struct tls_conn *c = NULL;
    if (write(fds[1], data, size) == (ssize_t)size && shutdown(fds[1], SHUT_WR) == 0 &&
        tls_conn_new(&c, server, fds[0]) == 0) {
        char buf[4096];
        /* The peer sent everything and closed: each read makes progress or ends. */
        for (int i = 0; i < 64; i++) {
            ssize_t n = tls_conn_read(c, buf, sizeof buf);
            if (n == 0 || n == TLS_FAILED || n == TLS_NOT_TLS)
                break;
            if (n == TLS_WANT_WRITE)
                abort(); /* the socket buffer has room for any server flight */
        }
        tls_conn_free(c);
    }
    close(fds[0]);
    close(fds[1]);
    return 0;
}
