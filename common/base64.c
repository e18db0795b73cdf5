#include "base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(char *out, const void *in, size_t len)
{
    const unsigned char *p = in;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int value(char c)
{
    return c >= 'A' && c <= 'Z'   ? c - 'A'
           : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52
           : c == '+'             ? 62
           : c == '/'             ? 63
                                  : -1;
}

long base64_decode(unsigned char *out, const char *in, size_t len)
{
    if (len % 4)
        return -1;
    size_t pad = len && in[len - 1] == '=' ? (in[len - 2] == '=' ? 2 : 1) : 0;
    size_t end = len - pad, n = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (size_t j = i; j < i + 4; j++) {
            int d = j < end ? value(in[j]) : 0; /* '=' stands for zero bits */
            if (d < 0)
                return -1;
            v = v << 6 | (uint32_t)d;
        }
        out[n++] = (unsigned char)(v >> 16);
        if (i + 2 < end)
            out[n++] = (unsigned char)(v >> 8);
        if (i + 3 < end)
            out[n++] = (unsigned char)v;
    }
    return (long)n;
}
