#include "json.h"

#include "err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const char *text;
    size_t len;
    size_t pos;
    int line;
    size_t line_start;
    struct arena *arena;
    const char *source;
};

static int fail(struct reader *r, const char *what)
{
    return err_set(ERR_PARSE, "%s:%d:%zu: %s", r->source, r->line, r->pos - r->line_start + 1, what);
}

static void skip_space(struct reader *r)
{
    while (r->pos < r->len) {
        char c = r->text[r->pos];
        if (c == '\n') {
            r->line++;
            r->line_start = r->pos + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        r->pos++;
    }
}

static int literal(struct reader *r, const char *word)
{
    size_t n = strlen(word);
    if (r->len - r->pos < n || memcmp(r->text + r->pos, word, n) != 0)
        return 0;
    r->pos += n;
    return 1;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8_encode(char *dst, unsigned cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads a string starting at the opening quote; decoded text goes into the arena. */
static int read_string(struct reader *r, const char **out, size_t *out_len)
{
    size_t start = ++r->pos;
    size_t end = start;
    int has_escape = 0;
    while (end < r->len && r->text[end] != '"') {
        unsigned char c = (unsigned char)r->text[end];
        if (c < 0x20) {
            r->pos = end;
            return fail(r, "control character in string");
        }
        if (c == '\\') {
            has_escape = 1;
            end++;
        }
        end++;
    }
    if (end >= r->len)
        return fail(r, "unterminated string");
    /* Decoded text is never longer than the raw text. */
    char *dst = arena_alloc(r->arena, end - start + 1);
    if (!dst)
        return err_set(ERR_LIMIT, "%s: document too large", r->source);
    size_t n = 0;
    if (!has_escape) {
        memcpy(dst, r->text + start, end - start);
        n = end - start;
    } else {
        for (size_t i = start; i < end; i++) {
            char c = r->text[i];
            if (c != '\\') {
                dst[n++] = c;
                continue;
            }
            char e = r->text[++i];
            switch (e) {
            case '"': dst[n++] = '"'; break;
            case '\\': dst[n++] = '\\'; break;
            case '/': dst[n++] = '/'; break;
            case 'b': dst[n++] = '\b'; break;
            case 'f': dst[n++] = '\f'; break;
            case 'n': dst[n++] = '\n'; break;
            case 'r': dst[n++] = '\r'; break;
            case 't': dst[n++] = '\t'; break;
            case 'u': {
                unsigned cp;
                if (end - i < 5 || hex4(r->text + i + 1, &cp)) {
                    r->pos = i;
                    return fail(r, "bad \\u escape in string");
                }
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && end - i >= 7 && r->text[i + 1] == '\\' && r->text[i + 2] == 'u') {
                    unsigned low;
                    if (!hex4(r->text + i + 3, &low) && low >= 0xDC00 && low < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    }
                }
                n += utf8_encode(dst + n, cp);
                break;
            }
            default: r->pos = i; return fail(r, "bad escape in string");
            }
        }
    }
    dst[n] = '\0';
    *out = dst;
    *out_len = n;
    r->pos = end + 1;
    return 0;
}

static int read_number(struct reader *r, double *out)
{
    size_t p = r->pos;
    const char *t = r->text;
    if (p < r->len && t[p] == '-')
        p++;
    if (r->len - p >= 8 && memcmp(t + p, "Infinity", 8) == 0) {
        *out = t[r->pos] == '-' ? -INFINITY : INFINITY;
        r->pos = p + 8;
        return 0;
    }
    if (p >= r->len || t[p] < '0' || t[p] > '9')
        return fail(r, "expected a value");
    if (t[p] == '0')
        p++;
    else
        while (p < r->len && t[p] >= '0' && t[p] <= '9')
            p++;
    if (p < r->len && t[p] == '.') {
        p++;
        if (p >= r->len || t[p] < '0' || t[p] > '9')
            return fail(r, "bad number");
        while (p < r->len && t[p] >= '0' && t[p] <= '9')
            p++;
    }
    if (p < r->len && (t[p] == 'e' || t[p] == 'E')) {
        p++;
        if (p < r->len && (t[p] == '+' || t[p] == '-'))
            p++;
        if (p >= r->len || t[p] < '0' || t[p] > '9')
            return fail(r, "bad number");
        while (p < r->len && t[p] >= '0' && t[p] <= '9')
            p++;
    }
    char tmp[128];
    size_t n = p - r->pos;
    if (n >= sizeof tmp)
        return fail(r, "number too long");
    memcpy(tmp, t + r->pos, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    r->pos = p;
    return 0;
}

static int read_value(struct reader *r, struct json_value *v, int depth);

static struct json_value *new_node(struct reader *r)
{
    struct json_value *v = arena_alloc(r->arena, sizeof *v);
    if (v)
        memset(v, 0, sizeof *v);
    return v;
}

static int read_container(struct reader *r, struct json_value *v, int depth)
{
    int is_object = r->text[r->pos] == '{';
    char close = is_object ? '}' : ']';
    v->type = is_object ? JSON_OBJECT : JSON_ARRAY;
    if (depth >= JSON_MAX_DEPTH)
        return fail(r, "nesting too deep");
    r->pos++;
    skip_space(r);
    if (r->pos < r->len && r->text[r->pos] == close) {
        r->pos++;
        return 0;
    }
    struct json_value **tail = &v->child;
    for (;;) {
        struct json_value *item = new_node(r);
        if (!item)
            return err_set(ERR_LIMIT, "%s: document too large", r->source);
        skip_space(r);
        if (is_object) {
            if (r->pos >= r->len || r->text[r->pos] != '"')
                return fail(r, "expected a member name");
            int rc = read_string(r, &item->key, &item->key_len);
            if (rc)
                return rc;
            skip_space(r);
            if (r->pos >= r->len || r->text[r->pos] != ':')
                return fail(r, "expected ':'");
            r->pos++;
        }
        int rc = read_value(r, item, depth + 1);
        if (rc)
            return rc;
        *tail = item;
        tail = &item->next;
        v->count++;
        skip_space(r);
        if (r->pos < r->len && r->text[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len && r->text[r->pos] == close) {
            r->pos++;
            return 0;
        }
        return fail(r, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int read_value(struct reader *r, struct json_value *v, int depth)
{
    skip_space(r);
    v->line = r->line;
    v->column = (int)(r->pos - r->line_start + 1);
    if (r->pos >= r->len)
        return fail(r, "unexpected end of input");
    char c = r->text[r->pos];
    switch (c) {
    case '{':
    case '[': return read_container(r, v, depth);
    case '"': v->type = JSON_STRING; return read_string(r, &v->as.string.ptr, &v->as.string.len);
    case 't':
    case 'f':
    case 'n':
    case 'N':
        if (literal(r, "true") || literal(r, "false")) {
            v->type = JSON_BOOL;
            v->as.boolean = c == 't';
            return 0;
        }
        if (literal(r, "null")) {
            v->type = JSON_NULL;
            return 0;
        }
        if (literal(r, "NaN")) {
            v->type = JSON_NUMBER;
            v->as.number = NAN;
            return 0;
        }
        return fail(r, "expected a value");
    default: v->type = JSON_NUMBER; return read_number(r, &v->as.number);
    }
}

int json_parse(struct json_value **out, struct arena *arena, const char *text, size_t len, const char *source)
{
    struct reader r = {.text = text, .len = len, .line = 1, .arena = arena, .source = source};
    *out = NULL;
    struct json_value *root = new_node(&r);
    if (!root)
        return err_set(ERR_LIMIT, "%s: document too large", source);
    int rc = read_value(&r, root, 0);
    if (rc)
        return rc;
    skip_space(&r);
    if (r.pos != r.len)
        return fail(&r, "unexpected data after the document");
    *out = root;
    return 0;
}

const struct json_value *json_member(const struct json_value *object, const char *key)
{
    if (!object || object->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const struct json_value *m = object->child; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m;
    return NULL;
}

const char *json_type_name(enum json_type type)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

int json_write_string(struct buf *out, const char *s, size_t len)
{
    int rc = buf_append(out, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                esc = tmp;
            }
        }
        if (!esc)
            continue;
        rc = buf_append(out, s + run, i - run);
        if (!rc)
            rc = buf_append_str(out, esc);
        run = i + 1;
    }
    if (!rc)
        rc = buf_append(out, s + run, len - run);
    if (!rc)
        rc = buf_append(out, "\"", 1);
    return rc;
}

static int write_non_finite(struct buf *out, double value)
{
    if (isnan(value))
        return buf_append_str(out, "NaN");
    return buf_append_str(out, value < 0 ? "-Infinity" : "Infinity");
}

int json_write_float(struct buf *out, float value)
{
    if (!isfinite(value))
        return write_non_finite(out, value);
    char tmp[32];
    /* The shortest of %.6g..%.9g that reads back as the same float. */
    for (int precision = 6; precision <= 9; precision++) {
        snprintf(tmp, sizeof tmp, "%.*g", precision, (double)value);
        if (strtof(tmp, NULL) == value)
            break;
    }
    return buf_append_str(out, tmp);
}

int json_write_double(struct buf *out, double value)
{
    if (!isfinite(value))
        return write_non_finite(out, value);
    char tmp[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(tmp, sizeof tmp, "%.*g", precision, value);
        if (strtod(tmp, NULL) == value)
            break;
    }
    return buf_append_str(out, tmp);
}

int json_write_value(struct buf *out, const struct json_value *v)
{
    int rc = 0;
    switch (v->type) {
    case JSON_NULL: return buf_append_str(out, "null");
    case JSON_BOOL: return buf_append_str(out, v->as.boolean ? "true" : "false");
    case JSON_NUMBER:
        if (v->as.number == floor(v->as.number) && fabs(v->as.number) < 9e15)
            return buf_appendf(out, "%lld", (long long)v->as.number);
        return json_write_double(out, v->as.number);
    case JSON_STRING: return json_write_string(out, v->as.string.ptr, v->as.string.len);
    case JSON_ARRAY:
    case JSON_OBJECT:
        rc = buf_append(out, v->type == JSON_ARRAY ? "[" : "{", 1);
        for (const struct json_value *c = v->child; c && !rc; c = c->next) {
            if (c != v->child)
                rc = buf_append(out, ",", 1);
            if (!rc && v->type == JSON_OBJECT) {
                rc = json_write_string(out, c->key, c->key_len);
                rc = rc ? rc : buf_append(out, ":", 1);
            }
            rc = rc ? rc : json_write_value(out, c);
        }
        return rc ? rc : buf_append(out, v->type == JSON_ARRAY ? "]" : "}", 1);
    }
    return err_set(ERR_INVALID, "unknown JSON value type");
}
