/* JSON reader (into an arena) and writer helpers.
 *
 * The reader builds a tree whose nodes live in the caller's arena; freeing the
 * arena frees the tree. Children are a singly linked list in document order so
 * parsing needs no temporary arrays. Each node records its line and column so
 * callers can report "file:line:column: field ..." errors. Nesting depth is
 * capped; the input size is capped by whoever read it. For Python parity the
 * reader accepts NaN, Infinity and -Infinity, which json.dumps emits. */
#ifndef AMLPKG_JSON_H
#define AMLPKG_JSON_H

#include "arena.h"
#include "buf.h"

#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_value {
    enum json_type type;
    int line, column;
    const char *key; /* member name when the parent is an object */
    size_t key_len;
    union {
        int boolean;
        double number;
        struct {
            const char *ptr; /* NUL-terminated; may contain NUL (see len) */
            size_t len;
        } string;
    } as;
    struct json_value *child; /* first element or member */
    struct json_value *next;  /* next sibling */
    size_t count;             /* number of children */
};

#define JSON_MAX_DEPTH 256

/* Parses text[0..len). On error sets "<source>:<line>:<column>: <what>". */
int json_parse(struct json_value **out, struct arena *arena, const char *text, size_t len, const char *source);
/* Member of an object by name, or NULL. */
const struct json_value *json_member(const struct json_value *object, const char *key);
const char *json_type_name(enum json_type type);

/* Writers append to a buffer; they return 0 or ERR_LIMIT/ERR_NOMEM. */
int json_write_string(struct buf *out, const char *s, size_t len);
/* Shortest text that reads back as the same float32 value. */
int json_write_float(struct buf *out, float value);
int json_write_double(struct buf *out, double value);
/* A parsed value written back compactly, members in their order; integers stay
 * integers (sizes and versions in other tools' documents keep their form). */
int json_write_value(struct buf *out, const struct json_value *v);

#endif
