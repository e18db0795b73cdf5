#include "builder/cli/transfer_cli.h"

#include "builder/cli/commands.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/parse_number.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int transfer_cli_option(struct transfer_cli *t, int c, const char *arg, const char *verb)
{
    switch (c) {
    case 0x100: t->reg.creds = arg; return 1;
    case 0x101: t->reg.insecure = 1; return 1;
    case 0x102: t->reg.ca_cert = arg; return 1;
    case 0x103: t->json = 1; return 1;
    case 0x104: t->reg.authfile = arg; return 1;
    case 'j': {
        long long v;
        int rc = parse_number_int(&v, "--jobs", arg, 1, 64);
        if (rc) {
            fprintf(stderr, "amlpkg %s: %s\n", verb, err_message(rc));
            return EXIT_USAGE;
        }
        t->jobs = (int)v;
        return 1;
    }
    default: return 0;
    }
}

void transfer_cli_print_digest(const char *digest)
{
    printf("%s\n", digest);
    fflush(stdout);
}

void transfer_cli_report(const struct transfer_cli *t, const char *verb, const char *src, const char *dst,
                         const struct image_transfer *x)
{
    double mb = (double)x->bytes_moved / 1e6;
    double rate = x->seconds > 0 ? mb / x->seconds : 0;
    if (!t->json) {
        printf("%s %s -> %s: %d blobs (%d uploaded, %d skipped, %d mounted, %d downloaded), %.1f MB moved in "
               "%.2fs (%.1f MB/s)\n",
               verb, src, dst, x->blobs, x->uploaded, x->existed, x->mounted, x->downloaded, mb, x->seconds, rate);
        transfer_cli_print_digest(x->digest);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_appendf(&b, "{\"operation\":\"%s\",\"source\":", verb);
    json_write_string(&b, src, strlen(src));
    buf_append_str(&b, ",\"destination\":");
    json_write_string(&b, dst, strlen(dst));
    buf_appendf(&b,
                ",\"digest\":\"%s\",\"blobs\":%d,\"uploaded\":%d,\"skipped\":%d,\"mounted\":%d,\"downloaded\":%d,"
                "\"manifests_put\":%d,\"bytes\":%lld,\"bytes_moved\":%lld,\"seconds\":%.3f}\n",
                x->digest, x->blobs, x->uploaded, x->existed, x->mounted, x->downloaded, x->manifests_put, x->bytes,
                x->bytes_moved, x->seconds);
    fputs(b.data, stdout);
    buf_release(&b);
}

struct open_job {
    const char *name;
    const struct registry_options *opt;
    struct registry *reg;
    int rc;
    char err[1024]; /* the message lives in the opening thread's error state: copied out */
};

static void *open_registry(void *arg)
{
    struct open_job *j = arg;
    if ((j->rc = registry_open(&j->reg, j->name, j->opt)))
        snprintf(j->err, sizeof j->err, "%s", err_message(j->rc));
    return NULL;
}

int transfer_cli_open_push(struct image_source **src, const char *source, struct registry **reg,
                           const char *registry_name, const struct registry_options *opt)
{
    *src = NULL;
    if (*reg) /* already open (build --push checked it before building): the source alone */
        return image_source_open(src, source);
    struct open_job j = {.name = registry_name, .opt = opt};
    pthread_t t;
    int threaded = pthread_create(&t, NULL, open_registry, &j) == 0;
    int rc = image_source_open(src, source);
    if (threaded)
        pthread_join(t, NULL);
    else
        open_registry(&j);
    if (!rc && j.rc)
        rc = err_set(j.rc, "%s", j.err);
    if (rc) {
        registry_free(j.reg);
        image_source_free(*src);
        *src = NULL;
        return rc;
    }
    *reg = j.reg;
    return 0;
}

int transfer_cli_push_image(struct registry **reg, struct image_transfer *x, const struct reference *ref,
                            const char *ref_text, const char *source, const struct registry_options *opt,
                            struct trust_carried *carried)
{
    if (carried)
        memset(carried, 0, sizeof *carried);
    struct image_source *src = NULL;
    struct registry_options ro = *opt;
    ro.op = "push";
    int rc = transfer_cli_open_push(&src, source, reg, ref->registry, &ro);
    if (!rc)
        rc = registry_image_push(*reg, ref->repository, ref->tag[0] ? ref->tag : NULL, src, x);
    if (!rc && ref->digest[0] && strcmp(ref->digest, x->digest))
        rc = err_set(ERR_MISMATCH, "%s: the image's digest is %s, not %s", ref_text, x->digest, ref->digest);
    if (!rc && carried)
        rc = trust_carry_push(carried, src, *reg, ref->repository, x->jobs);
    image_source_free(src);
    return rc;
}

int transfer_cli_copy_registry(const struct transfer_cli *t, const struct reference *src, const struct reference *dst,
                               struct image_transfer *x, struct trust_carried *carried)
{
    memset(carried, 0, sizeof *carried);
    struct registry_options so = t->reg;
    if (t->src_creds)
        so.creds = t->src_creds;
    struct registry *sreg = NULL, *dreg = NULL;
    int rc = registry_open(&dreg, dst->registry, &t->reg);
    int same = !strcmp(src->registry, dst->registry) && !t->src_creds;
    if (!rc && !same)
        rc = registry_open(&sreg, src->registry, &so);
    if (!rc)
        rc = registry_image_copy(same ? dreg : sreg, src->repository, reference_manifest_id(src), dreg,
                                 dst->repository, dst->tag[0] ? dst->tag : NULL, x);
    if (!rc) /* its signatures and attestations come along, as cosign copy does */
        rc = trust_carry_copy(carried, same ? dreg : sreg, src->repository, x->digest, dreg, dst->repository, t->jobs);
    registry_free(sreg);
    registry_free(dreg);
    return rc;
}

void transfer_cli_report_carried(const struct transfer_cli *t, const char *verb, const struct trust_carried *c)
{
    if ((c->signature_tags || c->referrers) && !t->json)
        fprintf(stderr, "%s its signatures and attestations: %d signature tag%s, %d referrer%s%s\n", verb,
                c->signature_tags, c->signature_tags == 1 ? "" : "s", c->referrers, c->referrers == 1 ? "" : "s",
                c->referrers_fallback ? " (listed in the referrers tag)" : "");
}

int transfer_cli_pull_archive(const struct transfer_cli *t, const struct reference *src, const char *out_path,
                              struct image_transfer *x)
{
    char name[700];
    snprintf(name, sizeof name, "%s/%s%s%s", src->registry, src->repository, src->tag[0] ? ":" : "", src->tag);
    struct registry *reg = NULL;
    int rc = registry_open(&reg, src->registry, &t->reg);
    if (!rc)
        rc = registry_image_pull(reg, src->repository, reference_manifest_id(src), out_path, name, x);
    registry_free(reg);
    return rc;
}

int transfer_cli_archive_output(const char **path, const char *text, const char *verb)
{
    struct image_location loc;
    int rc = image_location_parse(&loc, text);
    if (rc)
        return rc;
    if (loc.transport == IMAGE_OCI_LAYOUT || loc.transport == IMAGE_DOCKER_ARCHIVE || loc.transport == IMAGE_REGISTRY)
        return err_set(ERR_UNSUPPORTED, "%s: %s writes an oci-archive (oci-archive:PATH or a plain path), not %s", text,
                       verb, image_transport_prefix(loc.transport));
    *path = loc.rest;
    return 0;
}
