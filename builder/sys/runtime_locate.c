#include "builder/sys/runtime_locate.h"

#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "common/err.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int runtime_locate(char **out, const char *given)
{
    *out = NULL;
    const char *env = getenv("AMLPKG_AMLSERVE");
    const char *path = given ? given : env && env[0] ? env : NULL;
    char self[PATH_MAX];
    if (!path) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
            return err_set_errno(ERR_NOTFOUND, "cannot locate amlserve (use --runtime)");
        self[n] = '\0';
        char *dir = fs_dirname(self);
        *out = dir ? path_join(dir, "amlserve") : NULL;
        free(dir);
        if (!*out)
            return err_set(ERR_NOMEM, "out of memory");
    } else if (!(*out = strdup(path))) {
        return err_set(ERR_NOMEM, "out of memory");
    }
    struct stat st;
    if (stat(*out, &st) != 0 || !S_ISREG(st.st_mode))
        return err_set(ERR_NOTFOUND, "amlserve runtime not found at '%s' (build it with make, or pass --runtime)",
                       *out);
    return 0;
}
