#include "common/path.h"

#include <stdlib.h>
#include <string.h>

/* How many bytes of dir go in front of name and whether a '/' goes between them. */
static size_t dir_part(const char *dir, int *slash)
{
    *slash = 0;
    if (!dir || !dir[0] || (dir[0] == '.' && !dir[1]))
        return 0;
    size_t n = strlen(dir);
    *slash = dir[n - 1] != '/';
    return n;
}

size_t path_join_into(char *out, size_t size, const char *dir, const char *name)
{
    int slash;
    size_t dl = dir_part(dir, &slash), nl = strlen(name), total = dl + (size_t)slash + nl;
    if (!size)
        return total;
    size_t at = 0;
    for (size_t i = 0; i < dl && at + 1 < size; i++)
        out[at++] = dir[i];
    if (slash && at + 1 < size)
        out[at++] = '/';
    for (size_t i = 0; i < nl && at + 1 < size; i++)
        out[at++] = name[i];
    out[at] = '\0';
    return total;
}

char *path_join(const char *dir, const char *name)
{
    size_t n = path_join_into(NULL, 0, dir, name) + 1;
    char *p = malloc(n);
    if (p)
        path_join_into(p, n, dir, name);
    return p;
}
