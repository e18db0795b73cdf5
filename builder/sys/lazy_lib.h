/* Shared libraries loaded on first use, not at start-up.
 *
 * libcurl and libgit2 bring about 40 more shared objects into the process;
 * loading and relocating them costs more than a cached rebuild does. Only
 * the registry, profile and git code need them, so amlpkg is not linked
 * against them: curl_lazy.c and git2_lazy.c define the functions it calls,
 * each loading its library with dlopen the first time (the soname the build
 * saw, from the Makefile) and calling through the symbol dlsym finds. A
 * library that cannot be loaded ends the process with a message naming it,
 * as the dynamic loader would have at start-up. */
#ifndef AMLPKG_LAZY_LIB_H
#define AMLPKG_LAZY_LIB_H

#include <pthread.h>

struct lazy_lib {
    const char *soname;
    void *handle;
    pthread_mutex_t lock;
};

#define LAZY_LIB(soname)                                                                                               \
    {                                                                                                                  \
        soname, NULL, PTHREAD_MUTEX_INITIALIZER                                                                        \
    }

/* The address of name in lib, loading lib first; never returns NULL. */
void *lazy_symbol(struct lazy_lib *lib, const char *name);

/* Sets the function pointer fn (declared with the right type) to name in lib, looked up once per call site. */
#define LAZY_RESOLVE(lib, fn, name)                                                                                    \
    do {                                                                                                               \
        static void *cached_;                                                                                          \
        void *sym_ = __atomic_load_n(&cached_, __ATOMIC_ACQUIRE);                                                      \
        if (!sym_) {                                                                                                   \
            sym_ = lazy_symbol(&(lib), name);                                                                          \
            __atomic_store_n(&cached_, sym_, __ATOMIC_RELEASE);                                                        \
        }                                                                                                              \
        *(void **)&(fn) = sym_;                                                                                        \
    } while (0)

/* Defines `ret name params`, calling name in lib with args. */
#define LAZY_FORWARD(lib, ret, name, params, args)                                                                     \
    ret name params                                                                                                    \
    {                                                                                                                  \
        __typeof__(&name) fn;                                                                                          \
        LAZY_RESOLVE(lib, fn, #name);                                                                                  \
        return fn args;                                                                                                \
    }

/* The same for functions returning void. */
#define LAZY_FORWARD_VOID(lib, name, params, args)                                                                     \
    void name params                                                                                                   \
    {                                                                                                                  \
        __typeof__(&name) fn;                                                                                          \
        LAZY_RESOLVE(lib, fn, #name);                                                                                  \
        fn args;                                                                                                       \
    }

#endif
