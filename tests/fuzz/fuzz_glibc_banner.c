/* libFuzzer target: the glibc version scanner that reads a base image's libc
 * (any bytes: the file is whatever the image calls libc.so.6). A version it
 * reports fits the buffer, starts with a digit and holds only digits and dots,
 * one of them inside; every buffer size is tried, the small ones too. */
#include "builder/env/base_probe.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[40];
    for (size_t cap = 1; cap <= sizeof out; cap += 7) {
        memset(out, 'x', sizeof out);
        if (base_probe_glibc_banner(out, cap, (const char *)data, size) != 0)
            continue;
        size_t n = strnlen(out, cap);
        if (n == cap || n == 0 || !isdigit((unsigned char)out[0]) || out[n - 1] == '.' || !memchr(out, '.', n))
            __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if (!isdigit((unsigned char)out[i]) && out[i] != '.')
                __builtin_trap();
        for (size_t i = cap; i < sizeof out; i++)
            if (out[i] != 'x') /* nothing past the buffer it was given */
                __builtin_trap();
    }
    return 0;
}
