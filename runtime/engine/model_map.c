/* Mappings of model files and the SIGBUS handler that keeps a truncated one
 * from killing the process (see model_map.h for the design). */
#include "model_map.h"

#include "beneath.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Mapped files the handler knows at once (one per model file and external
 * data file; exporters may write one data file per tensor). */
#define MAP_SLOTS 16384

/* The handler reads these lock-free: start is published last and cleared first. */
static struct {
    _Atomic uintptr_t start;
    _Atomic size_t len; /* page-rounded */
    atomic_int bad;
} slots[MAP_SLOTS];
static atomic_int slots_used; /* slots beyond this were never used */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static struct sigaction previous_bus;

struct model_map {
    unsigned char *data;
    size_t len, mapped;
    int fd;
    int slot;
    off_t size;
    struct timespec mtime;
    char *path;
};

/* A read of a registered mapping past its file's end: map zero pages over the
 * whole mapping so the read (and every later one) succeeds, and mark it bad
 * for model_map_check. mmap is a plain system call here, safe in a handler. */
static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    uintptr_t addr = (uintptr_t)info->si_addr;
    int used = atomic_load(&slots_used);
    for (int i = 0; i < used; i++) {
        uintptr_t start = atomic_load(&slots[i].start);
        size_t len = atomic_load(&slots[i].len);
        if (!start || addr < start || addr - start >= len)
            continue;
        atomic_store(&slots[i].bad, 1);
        if (mmap((void *)start, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
            return;
        break;
    }
    /* Not ours (or unrecoverable): the previous disposition, by re-faulting. */
    sigaction(sig, &previous_bus, NULL);
}

static void install_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous_bus);
}

static int slot_take(uintptr_t start, size_t len)
{
    pthread_once(&handler_once, install_handler);
    pthread_mutex_lock(&slots_lock);
    int found = -1;
    for (int i = 0; i < MAP_SLOTS && found < 0; i++)
        if (!atomic_load(&slots[i].start))
            found = i;
    if (found >= 0) {
        atomic_store(&slots[found].bad, 0);
        atomic_store(&slots[found].len, len);
        atomic_store(&slots[found].start, start);
        if (found >= atomic_load(&slots_used))
            atomic_store(&slots_used, found + 1);
    }
    pthread_mutex_unlock(&slots_lock);
    return found;
}

static void slot_release(int slot)
{
    pthread_mutex_lock(&slots_lock);
    atomic_store(&slots[slot].start, 0);
    atomic_store(&slots[slot].len, 0);
    atomic_store(&slots[slot].bad, 0);
    pthread_mutex_unlock(&slots_lock);
}

int model_map_open(struct model_map **out, const char *path, size_t max_len)
{
    *out = NULL;
    int fd = -1;
    int rc = beneath_open_model(&fd, path); /* non-blocking, a regular file: a FIFO cannot hang the load */
    return rc ? rc : model_map_open_fd(out, fd, path, max_len);
}

int model_map_open_fd(struct model_map **out, int fd, const char *path, size_t max_len)
{
    *out = NULL;
    int rc = 0;
    struct model_map *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        close(fd);
        return err_set(ERR_NOMEM, "%s: out of memory", path);
    }
    m->slot = -1;
    m->fd = fd;
    struct stat st;
    if (m->fd < 0 || fstat(m->fd, &st) != 0) {
        rc = err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "%s", path);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(ERR_INVALID, "%s: not a regular file", path);
        goto done;
    }
    if (max_len && (uint64_t)st.st_size > max_len) {
        rc = err_set(ERR_LIMIT, "%s: %lld bytes, above the limit of %zu", path, (long long)st.st_size, max_len);
        goto done;
    }
    m->size = st.st_size;
    m->mtime = st.st_mtim;
    m->len = (size_t)st.st_size;
    if (m->len == 0)
        goto done;
    long page = sysconf(_SC_PAGESIZE);
    m->mapped = (m->len + (size_t)page - 1) / (size_t)page * (size_t)page;
    void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, m->fd, 0);
    if (p == MAP_FAILED) {
        rc = err_set_errno(ERR_IO, "%s: cannot map the file", path);
        goto done;
    }
    m->data = p;
    m->slot = slot_take((uintptr_t)p, m->mapped);
    if (m->slot < 0)
        rc = err_set(ERR_LIMIT, "%s: more than %d model files mapped at once", path, MAP_SLOTS);
done:
    if (rc)
        model_map_free(m);
    else
        *out = m;
    return rc;
}

void model_map_free(struct model_map *m)
{
    if (!m)
        return;
    if (m->slot >= 0)
        slot_release(m->slot); /* first: once unmapped, the address may be reused by another mapping */
    if (m->data)
        munmap(m->data, m->len);
    if (m->fd >= 0)
        close(m->fd);
    free(m->path);
    free(m);
}

const unsigned char *model_map_data(const struct model_map *m)
{
    return m->data;
}

size_t model_map_len(const struct model_map *m)
{
    return m->len;
}

const char *model_map_path(const struct model_map *m)
{
    return m->path;
}

int model_map_check(const struct model_map *m)
{
    if (m->slot >= 0 && atomic_load(&slots[m->slot].bad))
        return err_set(ERR_IO, "%s: the model file was truncated while mapped (a read past its end); reload the model",
                       m->path);
    struct stat st;
    if (fstat(m->fd, &st) != 0)
        return err_set_errno(ERR_IO, "%s: cannot check the model file", m->path);
    if (st.st_size != m->size)
        return err_set(ERR_IO, "%s: the model file changed size on disk (%lld bytes, %lld when loaded); reload the model",
                       m->path, (long long)st.st_size, (long long)m->size);
    if (st.st_mtim.tv_sec != m->mtime.tv_sec || st.st_mtim.tv_nsec != m->mtime.tv_nsec)
        return err_set(ERR_IO, "%s: the model file was rewritten on disk after it was loaded; reload the model",
                       m->path);
    return 0;
}
