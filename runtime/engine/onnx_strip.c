/* A protobuf walker that knows just the ONNX fields on the way to initializers. */
#include "onnx_strip.h"

#include <string.h>

/* Nested graphs (If branches, Loop bodies) deeper than this are copied whole. */
#define STRIP_MAX_DEPTH 16

enum kind { KIND_MODEL, KIND_GRAPH, KIND_NODE, KIND_ATTRIBUTE, KIND_TENSOR };

struct walk {
    const unsigned char *base; /* the whole input, for offsets */
    long stripped;
};

static int read_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int put_varint(struct buf *out, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return buf_append(out, tmp, n);
}

/* The message kind a length-delimited field of kind k holds when it is one we descend into. */
static int child_kind(enum kind k, uint64_t field, enum kind *child)
{
    switch (k) {
    case KIND_MODEL: *child = KIND_GRAPH; return field == 7;
    case KIND_GRAPH:
        *child = field == 1 ? KIND_NODE : KIND_TENSOR;
        return field == 1 || field == 5;
    case KIND_NODE: *child = KIND_ATTRIBUTE; return field == 5;
    case KIND_ATTRIBUTE: *child = KIND_GRAPH; return field == 6 || field == 11;
    case KIND_TENSOR: break;
    }
    return 0;
}

static int rewrite(struct walk *w, struct buf *out, const unsigned char *p, size_t n, enum kind kind, int depth)
{
    const unsigned char *end = p + n;
    while (p < end) {
        const unsigned char *field_start = p;
        uint64_t key, len = 0;
        if (read_varint(&p, end, &key))
            return -1;
        uint64_t field = key >> 3;
        switch (key & 7) {
        case 0:
            if (read_varint(&p, end, &len))
                return -1;
            len = 0;
            break;
        case 1: len = 8; break;
        case 5: len = 4; break;
        case 2:
            if (read_varint(&p, end, &len))
                return -1;
            break;
        default: return -1; /* groups are not in ONNX */
        }
        if (field == 0 || len > (uint64_t)(end - p))
            return -1;
        const unsigned char *value = p;
        p += len;
        enum kind child;
        if ((key & 7) == 2 && kind == KIND_TENSOR && field == 9 && len >= ONNX_STRIP_MIN) {
            unsigned char ref[16];
            uint64_t offset = (uint64_t)(value - w->base);
            for (int i = 0; i < 8; i++) {
                ref[i] = (unsigned char)(offset >> (8 * i));
                ref[8 + i] = (unsigned char)(len >> (8 * i));
            }
            if (put_varint(out, (uint64_t)ONNX_STRIP_FIELD << 3 | 2) || put_varint(out, sizeof ref) ||
                buf_append(out, ref, sizeof ref))
                return -1;
            w->stripped++;
        } else if ((key & 7) == 2 && child_kind(kind, field, &child) &&
                   (child != KIND_GRAPH || depth < STRIP_MAX_DEPTH)) {
            struct buf sub;
            buf_init(&sub, out->limit);
            int rc = rewrite(w, &sub, value, (size_t)len, child, depth + (child == KIND_GRAPH));
            if (!rc)
                rc = put_varint(out, key) || put_varint(out, sub.len) || buf_append(out, sub.data, sub.len) ? -1 : 0;
            buf_release(&sub);
            if (rc)
                return -1;
        } else if (buf_append(out, field_start, (size_t)(p - field_start))) {
            return -1;
        }
    }
    return 0;
}

long onnx_strip(struct buf *out, const unsigned char *data, size_t len)
{
    struct walk w = {.base = data};
    if (rewrite(&w, out, data, len, KIND_MODEL, 0)) {
        buf_reset(out);
        return -1;
    }
    return w.stripped;
}

int onnx_strip_ref(const unsigned char *data, size_t len, uint64_t *offset, uint64_t *length)
{
    /* protobuf-c keeps an unknown length-delimited field with its length prefix. */
    if (len == 17 && data[0] == 16) {
        data++;
        len--;
    }
    if (len != 16)
        return -1;
    *offset = *length = 0;
    for (int i = 0; i < 8; i++) {
        *offset |= (uint64_t)data[i] << (8 * i);
        *length |= (uint64_t)data[8 + i] << (8 * i);
    }
    return 0;
}
