/* amlserve is static, never resolves names (listen addresses are numeric) and
 * never loads code at run time. libcrypto/libssl still reference glibc's
 * resolver and dlopen, from code amlserve never runs (DTLS addresses,
 * BIO_lookup, engines and providers loaded from files); linked in, the
 * resolver would load NSS modules with dlopen. amlserve is linked with
 * -Wl,--wrap for each of these functions (NO_RESOLVER in the Makefile), so
 * those references land on the stand-ins below, which only fail, and neither
 * the resolver nor dlopen is in the binary. */
#include <netdb.h>
#include <stddef.h>

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res);
void __wrap_freeaddrinfo(struct addrinfo *res);
struct hostent *__wrap_gethostbyname(const char *name);
void *__wrap_dlopen(const char *file, int mode);

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
    (void)node, (void)service, (void)hints;
    *res = NULL;
    return EAI_FAIL;
}

void __wrap_freeaddrinfo(struct addrinfo *res)
{
    (void)res; /* __wrap_getaddrinfo never returns any */
}

struct hostent *__wrap_gethostbyname(const char *name)
{
    (void)name;
    h_errno = NO_RECOVERY;
    return NULL;
}

void *__wrap_dlopen(const char *file, int mode)
{
    (void)file, (void)mode;
    return NULL;
}
