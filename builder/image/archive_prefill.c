#include "builder/image/archive_prefill.h"

#include "builder/image/oci_archive.h"
#include "builder/sys/fsutil.h"
#include "common/err.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct archive_prefill {
    struct oci_blob *layers; /* copies, sorted by digest, each once */
    size_t n_layers;
    struct tar_writer t;
    char *tmp_path;
    char *target;
    pthread_t thread;
    int started;
    int rc; /* the thread's result; its message in why */
    char why[512];
};

static void *write_prefix(void *arg)
{
    struct archive_prefill *p = arg;
    int rc = tar_put_dir(&p->t, "blobs");
    rc = rc ? rc : tar_put_dir(&p->t, "blobs/sha256");
    for (size_t i = 0; i < p->n_layers && !rc; i++)
        rc = oci_archive_put_blob(&p->t, &p->layers[i]);
    if (rc)
        snprintf(p->why, sizeof p->why, "%s", err_message(rc));
    err_clear();
    p->rc = rc;
    return NULL;
}

int archive_prefill_start(struct archive_prefill **out, const char *target, long long mtime,
                          const struct oci_blob *layers, size_t n_layers)
{
    *out = NULL;
    struct archive_prefill *p = calloc(1, sizeof *p);
    if (!p || !(p->layers = calloc(n_layers ? n_layers : 1, sizeof *p->layers)) || !(p->target = strdup(target))) {
        archive_prefill_free(p);
        return err_set(ERR_NOMEM, "out of memory");
    }
    p->t = (struct tar_writer){.fd = -1, .mtime = mtime, .target = p->target};
    for (size_t i = 0; i < n_layers; i++) {
        if (oci_blob_repeats_earlier(layers, i))
            continue; /* identical layers: stored once, where first met */
        p->layers[p->n_layers] = layers[i];
        p->layers[p->n_layers].media_type = NULL; /* not needed, and not ours to keep */
        if (!(p->layers[p->n_layers].path = strdup(layers[i].path))) {
            archive_prefill_free(p);
            return err_set(ERR_NOMEM, "out of memory");
        }
        p->n_layers++;
    }
    FILE *f = NULL;
    int rc = fs_temp_beside(&f, &p->tmp_path, target);
    if (!rc) {
        p->t.fd = dup(fileno(f));
        fclose(f);
        if (p->t.fd < 0)
            rc = err_set_errno(ERR_IO, "%s: cannot open the temporary file", target);
    }
    if (!rc && pthread_create(&p->thread, NULL, write_prefix, p) != 0)
        rc = err_set(ERR_NOMEM, "cannot start a thread");
    if (rc) {
        archive_prefill_free(p);
        return rc;
    }
    p->started = 1;
    *out = p;
    return 0;
}

int archive_prefill_fits(const struct archive_prefill *p, const struct oci_image *image)
{
    size_t matched = 0; /* the image's distinct layers, in order, against the prefill's */
    for (size_t i = 0; i < image->n_layers && matched < p->n_layers; i++) {
        if (oci_blob_repeats_earlier(image->layers, i))
            continue;
        if (strcmp(image->layers[i].digest, p->layers[matched].digest))
            return 0;
        matched++;
    }
    return p->n_layers > 0 && matched == p->n_layers;
}

size_t archive_prefill_count(const struct archive_prefill *p)
{
    return p->n_layers;
}

static void wait_for(struct archive_prefill *p)
{
    if (p->started)
        pthread_join(p->thread, NULL);
    p->started = 0;
}

int archive_prefill_take(struct archive_prefill *p, struct tar_writer *t, char **tmp_path)
{
    wait_for(p);
    if (p->rc)
        return err_set(p->rc, "%s", p->why);
    *t = p->t;
    *tmp_path = p->tmp_path;
    p->t.fd = -1;
    p->tmp_path = NULL;
    return 0;
}

void archive_prefill_free(struct archive_prefill *p)
{
    if (!p)
        return;
    wait_for(p);
    if (p->t.fd >= 0)
        close(p->t.fd);
    if (p->tmp_path)
        unlink(p->tmp_path);
    for (size_t i = 0; i < p->n_layers; i++)
        free(p->layers[i].path);
    free(p->layers);
    free(p->tmp_path);
    free(p->target);
    free(p);
}
