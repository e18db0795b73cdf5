/* SHA-256 throughput (make bench; not a pass/fail test): common/sha256.c on
 * its SHA-NI and portable paths against OpenSSL's EVP sha256, the yardstick
 * it replaced in amlpkg.
 *
 *   sha256_bench [MIB]     hash MIB MiB (default 1024) per round, in 1 MiB updates
 *
 * The data is a 64 MiB buffer hashed over and over, larger than the caches, as
 * layers streamed from disk are. Sides alternate over five rounds and the best
 * round of each is kept, so load from other processes hits them alike; times
 * are this thread's CPU time, so that time spent descheduled is not counted. */
#include "common/sha256.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK (1u << 20)
#define BUFFER (64u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run_ours(const unsigned char *buf, size_t total, unsigned char out[32])
{
    double t0 = now();
    struct sha256 s;
    sha256_init(&s);
    for (size_t done = 0; done < total; done += CHUNK)
        sha256_update(&s, buf + done % BUFFER, CHUNK);
    sha256_final(&s, out);
    return now() - t0;
}

static double run_openssl(const unsigned char *buf, size_t total, unsigned char out[32])
{
    double t0 = now();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "sha256_bench: OpenSSL sha256 unavailable\n");
        exit(1);
    }
    for (size_t done = 0; done < total; done += CHUNK)
        EVP_DigestUpdate(ctx, buf + done % BUFFER, CHUNK);
    EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
    return now() - t0;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 1024;
    if (mib < 1 || mib > (1L << 20)) {
        fprintf(stderr, "usage: sha256_bench [MIB]\n");
        return 2;
    }
    size_t total = (size_t)mib << 20;
    unsigned char *buf = malloc(BUFFER);
    if (!buf) {
        fprintf(stderr, "sha256_bench: out of memory\n");
        return 1;
    }
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < BUFFER; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    int accelerated = sha256_accelerated();
    double best[3] = {1e30, 1e30, 1e30};
    unsigned char digest[3][32];
    for (int round = 0; round < 5; round++) {
        double t;
        if (accelerated) {
            sha256_force_portable(0);
            if ((t = run_ours(buf, total, digest[0])) < best[0])
                best[0] = t;
        }
        sha256_force_portable(1);
        if ((t = run_ours(buf, total, digest[1])) < best[1])
            best[1] = t;
        sha256_force_portable(0);
        if ((t = run_openssl(buf, total, digest[2])) < best[2])
            best[2] = t;
    }
    free(buf);
    if ((accelerated && memcmp(digest[0], digest[2], 32)) || memcmp(digest[1], digest[2], 32)) {
        fprintf(stderr, "sha256_bench: digests differ from OpenSSL's\n");
        return 1;
    }
    static const char *names[3] = {"amlpkg sha256 (SHA-NI)", "amlpkg sha256 (portable)", "OpenSSL EVP sha256"};
    for (int i = 0; i < 3; i++) {
        if (i == 0 && !accelerated) {
            printf("%-26s not available on this CPU\n", names[0]);
            continue;
        }
        printf("%-26s %7.3f s per %ld MiB   %6.2f GB/s   %5.2fx OpenSSL\n", names[i], best[i], mib,
               (double)total / best[i] / 1e9, best[2] / best[i]);
    }
    return 0;
}
