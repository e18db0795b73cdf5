#include "builder/env/pip_install.h"

#include "builder/env/conda_fetch.h"
#include "builder/env/pip_lock.h"
#include "builder/image/wheel_install.h"
#include "builder/spec/conda_lockfile.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One "# pip NAME @ URL#sha256=HEX" line as a fetchable entry (url, sha256, filename, name, line). */
static int parse_line(struct conda_lock_entry *e, const char *line, size_t len, const char *lock_name, int line_no)
{
    memset(e, 0, sizeof *e);
    e->line = line_no;
    const char *at = memmem(line, len, " @ ", 3), *hash = memmem(line, len, "#sha256=", 8);
    const char *end = line + len;
    if (!at || !hash || hash < at || end - (hash + 8) != 64 || strspn(hash + 8, "0123456789abcdef") < 64)
        return err_set(ERR_PARSE,
                       "%s:%d: a pip line is not 'NAME @ URL#sha256=<64 hex>' (write the lock with amlpkg lock)",
                       lock_name, line_no);
    memcpy(e->sha256, hash + 8, 64);
    e->sha256[64] = '\0';
    const char *url = at + 3;
    e->name = strndup(line, (size_t)(at - line));
    e->url = strndup(url, (size_t)(hash - url));
    const char *slash = e->url ? strrchr(e->url, '/') : NULL;
    e->filename = slash ? strdup(slash + 1) : NULL;
    if (!e->name || !e->url || !e->filename)
        return err_set(ERR_NOMEM, "out of memory");
    size_t fl = strlen(e->filename);
    if (fl < 5 || strcmp(e->filename + fl - 4, ".whl"))
        return err_set(ERR_PARSE, "%s:%d: pip package '%s' is not a wheel (.whl)", lock_name, line_no, e->name);
    return 0;
}

static int parse_lines(struct conda_lock_entry **out, size_t *n, const char *text, const char *lock_name)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0, plen = strlen(PIP_LOCK_LINE_PREFIX);
    int line_no = 0, rc = 0;
    for (const char *p = text; *p && !rc;) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        line_no++;
        size_t len = (size_t)(end - p);
        while (len && p[len - 1] == '\r')
            len--;
        if (len > plen && !strncmp(p, PIP_LOCK_LINE_PREFIX, plen)) {
            if (*n == cap) {
                size_t grown = cap ? cap * 2 : 8;
                struct conda_lock_entry *more = realloc(*out, grown * sizeof *more);
                if (!more) {
                    rc = err_set(ERR_NOMEM, "out of memory");
                    break;
                }
                *out = more;
                cap = grown;
            }
            rc = parse_line(&(*out)[*n], p + plen, len - plen, lock_name, line_no);
            (*n)++;
        }
        p = nl ? nl + 1 : end;
    }
    return rc;
}

int pip_install_locked(size_t *installed, const char *lock_text, const char *lock_name, struct cache *cache,
                       const char *downloads, const char *prefix, const char *stage, const char *python_version)
{
    *installed = 0;
    struct conda_lock_entry *wheels = NULL;
    size_t n = 0;
    struct conda_fetched *fetched = NULL;
    char site_packages[64], python[4200];
    int rc = parse_lines(&wheels, &n, lock_text, lock_name);
    if (!rc && n && !python_version[0])
        rc = err_set(ERR_INVALID, "%s:%d: pip wheels need a python package in the lock, and it has none", lock_name,
                     wheels[0].line);
    if (!rc && n && !(fetched = calloc(n, sizeof *fetched)))
        rc = err_set(ERR_NOMEM, "out of memory");
    rc = rc || !n ? rc : conda_fetch_all(fetched, wheels, n, cache, downloads);
    snprintf(site_packages, sizeof site_packages, "lib/python%s/site-packages", python_version);
    snprintf(python, sizeof python, "%s/bin/python", prefix);
    const struct wheel_install_target target = {.prefix_dir = stage, .site_packages = site_packages, .python = python};
    for (size_t i = 0; i < n && !rc; i++) {
        rc = wheel_install(fetched[i].path, wheels[i].filename, wheels[i].sha256, &target);
        if (rc) {
            char detail[900];
            snprintf(detail, sizeof detail, "%s", err_message(rc));
            err_clear();
            rc = err_set(rc, "%s:%d: pip package %s: %s", lock_name, wheels[i].line, wheels[i].name, detail);
        }
    }
    if (!rc)
        *installed = n;
    if (fetched)
        conda_fetch_release(fetched, n);
    free(fetched);
    conda_lockfile_entries_free(wheels, n);
    return rc;
}
