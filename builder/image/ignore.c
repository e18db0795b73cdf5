#include "builder/image/ignore.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/path.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IGNORE_MAX_RULES 10000

static int add_rule(struct ignore_rules *r, const char *line, size_t len)
{
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        len--;
    if (!len || line[0] == '#')
        return 0;
    if (r->n == IGNORE_MAX_RULES)
        return err_set(ERR_LIMIT, "%s: more than %d patterns", r->source, IGNORE_MAX_RULES);
    struct ignore_rule rule = {0};
    if (line[0] == '!')
        rule.negate = 1, line++, len--;
    if (len && line[len - 1] == '/')
        rule.dir_only = 1, len--;
    if (len && line[0] == '/')
        rule.anchored = 1, line++, len--;
    if (!len)
        return 0;
    if (memchr(line, '/', len))
        rule.anchored = 1;
    if (!(rule.pattern = strndup(line, len)))
        return err_set(ERR_NOMEM, "out of memory");
    struct ignore_rule *grown = realloc(r->rules, (r->n + 1) * sizeof *grown);
    if (!grown) {
        free(rule.pattern);
        return err_set(ERR_NOMEM, "out of memory");
    }
    r->rules = grown;
    r->rules[r->n++] = rule;
    return 0;
}

int ignore_load(struct ignore_rules *r, const char *dir)
{
    memset(r, 0, sizeof *r);
    static const char *const names[] = {".amlignore", ".gitignore"};
    for (int i = 0; i < 2 && !r->source; i++) {
        char *path = path_join(dir, names[i]);
        if (!path)
            return err_set(ERR_NOMEM, "out of memory");
        if (access(path, F_OK) == 0)
            r->source = path;
        else
            free(path);
    }
    if (!r->source)
        return 0;
    struct buf text;
    buf_init(&text, 1u << 20);
    int rc = buf_read_file(&text, r->source);
    for (size_t i = 0; !rc && i < text.len;) {
        const char *line = text.data + i;
        const char *nl = memchr(line, '\n', text.len - i);
        size_t len = nl ? (size_t)(nl - line) : text.len - i;
        rc = add_rule(r, line, len);
        i += len + 1;
    }
    buf_release(&text);
    return rc;
}

void ignore_release(struct ignore_rules *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->rules[i].pattern);
    free(r->rules);
    free(r->source);
    memset(r, 0, sizeof *r);
}

/* '**' crosses directories; elsewhere '*' stays within one. */
static int glob_match(const char *pattern, const char *text)
{
    int flags = strstr(pattern, "**") ? 0 : FNM_PATHNAME;
    if (fnmatch(pattern, text, flags) == 0)
        return 1;
    /* "**" + "/x" also matches "x" at the top. */
    return strncmp(pattern, "**/", 3) == 0 && fnmatch(pattern + 3, text, 0) == 0;
}

int ignore_match(const struct ignore_rules *r, const char *rel, int is_dir)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (strcmp(base, ".git") == 0)
        return 1;
    int excluded = 0;
    for (size_t i = 0; i < r->n; i++) { /* the last matching rule decides, as in git */
        const struct ignore_rule *rule = &r->rules[i];
        if (rule->dir_only && !is_dir)
            continue;
        if (rule->anchored ? glob_match(rule->pattern, rel) : glob_match(rule->pattern, base))
            excluded = !rule->negate;
    }
    return excluded;
}
