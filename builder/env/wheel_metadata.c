#include "builder/env/wheel_metadata.h"

#include "common/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void wheel_metadata_release(struct wheel_metadata *m)
{
    free(m->name);
    free(m->version);
    free(m->requires_python);
    for (size_t i = 0; i < m->n_requires_dist; i++)
        free(m->requires_dist[i]);
    free(m->requires_dist);
    memset(m, 0, sizeof *m);
}

/* Copies a field's value (continuation lines joined by a space), trimmed. */
static char *field_value(const char *v, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\r')
            continue;
        if (v[i] == '\n') {
            out[o++] = ' ';
            while (i + 1 < n && (v[i + 1] == ' ' || v[i + 1] == '\t'))
                i++;
            continue;
        }
        out[o++] = v[i] == '\t' ? ' ' : v[i];
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    size_t lead = strspn(out, " ");
    memmove(out, out + lead, o - lead + 1);
    return out;
}

int wheel_metadata_parse(struct wheel_metadata *out, const char *text, size_t len, const char *source)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    int line = 1, rc = 0;
    while (i < len && !rc) {
        if (text[i] == '\n' || (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
            break; /* the blank line: the description follows */
        const char *start = text + i;
        size_t end = i;
        /* A field runs to the newline not followed by white space. */
        while (end < len && !(text[end] == '\n' && !(end + 1 < len && (text[end + 1] == ' ' || text[end + 1] == '\t'))))
            end++;
        const char *colon = memchr(start, ':', end - i);
        if (!colon || colon == start || memchr(start, '\0', end - i)) {
            rc = err_set(ERR_PARSE, "%s:%d: expected 'Field: value' in the wheel's metadata", source, line);
            break;
        }
        size_t name_len = (size_t)(colon - start);
        char *value = field_value(colon + 1, text + end - colon - 1);
        if (!value) {
            rc = err_set(ERR_NOMEM, "out of memory");
            break;
        }
#define IS(field) (name_len == strlen(field) && !strncasecmp(start, field, name_len))
        char **slot = IS("Name") ? &out->name : IS("Version") ? &out->version : IS("Requires-Python") ? &out->requires_python : NULL;
        if (slot) {
            free(*slot);
            *slot = value;
        } else if (IS("Requires-Dist")) {
            char **grown = out->n_requires_dist < WHEEL_METADATA_MAX_REQUIRES
                               ? realloc(out->requires_dist, (out->n_requires_dist + 1) * sizeof *grown)
                               : NULL;
            if (!grown) {
                free(value);
                rc = out->n_requires_dist < WHEEL_METADATA_MAX_REQUIRES
                         ? err_set(ERR_NOMEM, "out of memory")
                         : err_set(ERR_LIMIT, "%s:%d: more than %d Requires-Dist", source, line, WHEEL_METADATA_MAX_REQUIRES);
                break;
            }
            out->requires_dist = grown;
            out->requires_dist[out->n_requires_dist++] = value;
        } else {
            free(value);
        }
#undef IS
        for (size_t k = i; k < end; k++)
            line += text[k] == '\n';
        i = end + 1;
        line++;
    }
    if (rc)
        wheel_metadata_release(out);
    return rc;
}

/* "NAME-VER.dist-info/METADATA": one directory deep, the directory ending in .dist-info. */
static int is_metadata_path(const char *p)
{
    const char *slash = strchr(p, '/');
    return slash && slash - p > 10 && !strncmp(slash - 10, ".dist-info", 10) && !strcmp(slash + 1, "METADATA");
}

int wheel_metadata_extract(struct buf *out, const void *wheel, size_t len, const char *source)
{
    struct archive *a = archive_read_new();
    if (!a)
        return err_set(ERR_NOMEM, "out of memory");
    int rc = 0, found = 0;
    archive_read_support_format_zip(a);
    if (archive_read_open_memory(a, wheel, len) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: not a wheel (zip): %s", source, archive_error_string(a));
        goto done;
    }
    for (;;) {
        struct archive_entry *e = NULL;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = err_set(ERR_PARSE, "%s: a damaged wheel (zip): %s", source, archive_error_string(a));
            goto done;
        }
        const char *path = archive_entry_pathname(e);
        if (!path || !is_metadata_path(path))
            continue;
        char chunk[65536];
        la_ssize_t n;
        while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0)
            if ((rc = buf_append(out, chunk, (size_t)n)))
                goto done;
        if (n < 0) {
            rc = err_set(ERR_PARSE, "%s: %s: %s", source, path, archive_error_string(a));
            goto done;
        }
        found = 1;
        break;
    }
    if (!found)
        rc = err_set(ERR_PARSE, "%s: the wheel has no NAME.dist-info/METADATA", source);
done:
    archive_read_free(a);
    return rc;
}
