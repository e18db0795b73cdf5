#include "builder/sys/lazy_lib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void *lazy_symbol(struct lazy_lib *lib, const char *name)
{
    pthread_mutex_lock(&lib->lock);
    if (!lib->handle)
        lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    void *sym = lib->handle ? dlsym(lib->handle, name) : NULL;
    const char *why = sym ? NULL : dlerror();
    pthread_mutex_unlock(&lib->lock);
    if (!sym) {
        /* What the dynamic loader would have said at start-up, had amlpkg been linked against it. */
        fprintf(stderr, "amlpkg: cannot load %s from %s: %s (is its package installed?)\n", name, lib->soname,
                why ? why : "not found");
        exit(127);
    }
    return sym;
}
