#include "builder/image/plan_app.h"

#include "common/err.h"
#include "common/path.h"
#include "builder/image/ignore.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct app_list {
    struct plan_entry *items;
    size_t n, cap;
    const struct ignore_rules *rules;
};

static int inside_source(const struct spec_inference *inf)
{
    const char *src = inf->source_directory;
    size_t len = src ? strlen(src) : 0;
    return src && strncmp(inf->entry_script, src, len) == 0 && inf->entry_script[len] == '/';
}

const char *plan_app_entry_script(const struct spec_inference *inf)
{
    if (inside_source(inf))
        return inf->entry_script + strlen(inf->source_directory) + 1;
    const char *slash = strrchr(inf->entry_script, '/');
    return slash ? slash + 1 : inf->entry_script;
}

static int push(struct app_list *l, const char *rel, const char *host)
{
    if (l->n == PLAN_APP_MAX_FILES)
        return err_set(ERR_LIMIT,
                       "the source directory holds more than %d files; list what to leave out in "
                       ".amlignore",
                       PLAN_APP_MAX_FILES);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct plan_entry *grown = realloc(l->items, cap * sizeof *grown);
        if (!grown)
            return err_set(ERR_NOMEM, "out of memory");
        l->items = grown;
        l->cap = cap;
    }
    struct plan_entry *e = &l->items[l->n++];
    e->image_path = path_join(PLAN_APP_ROOT_REL, rel);
    e->host_path = strdup(host);
    return e->image_path && e->host_path ? 0 : err_set(ERR_NOMEM, "out of memory");
}

/* Files and links under dir (rel is dir's path from the source root, "" at the top), sorted. */
static int walk(struct app_list *l, const char *dir, const char *rel)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return err_set_errno(ERR_IO, "cannot read '%s'", dir);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (!rc && strcmp(name, ".") && strcmp(name, "..")) {
            char *host = path_join(dir, name), *sub = rel[0] ? path_join(rel, name) : strdup(name);
            struct stat st;
            if (!host || !sub)
                rc = err_set(ERR_NOMEM, "out of memory");
            else if (lstat(host, &st) != 0)
                rc = err_set_errno(ERR_IO, "cannot stat '%s'", host);
            else if (!ignore_match(l->rules, sub, S_ISDIR(st.st_mode)))
                rc = S_ISDIR(st.st_mode)                          ? walk(l, host, sub)
                     : S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ? push(l, sub, host)
                                                                  : 0; /* sockets, fifos: not app files */
            free(host);
            free(sub);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int plan_app_entries(struct plan_entry **entries, size_t *n, const struct spec_inference *inf)
{
    *entries = NULL;
    *n = 0;
    struct ignore_rules rules = {0};
    struct app_list l = {.rules = &rules};
    int rc = 0;
    if (inf->source_directory) {
        rc = ignore_load(&rules, inf->source_directory);
        rc = rc ? rc : walk(&l, inf->source_directory, "");
    }
    /* A script outside the source directory (or without one) lands at the app root. */
    if (!rc && !inside_source(inf))
        rc = push(&l, plan_app_entry_script(inf), inf->entry_script);
    ignore_release(&rules);
    if (rc) {
        for (size_t i = 0; i < l.n; i++) {
            free(l.items[i].image_path);
            free(l.items[i].host_path);
        }
        free(l.items);
        return rc;
    }
    *entries = l.items;
    *n = l.n;
    return 0;
}
