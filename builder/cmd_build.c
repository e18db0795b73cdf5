/* amlpkg build: spec → validated models → plan → OCI image archive. */
#include "commands.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "fsutil.h"
#include "model_check.h"
#include "oci_archive.h"
#include "oci_image.h"
#include "plan.h"
#include "runtime_locate.h"
#include "spec.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char build_usage[] =
    "usage: amlpkg build SPEC [options]\n"
    "\n"
    "Compiles a package spec (spec.yaml) into an OCI image archive, without a daemon.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE     where to write the image (default: NAME_TAG.tar)\n"
    "      --format FORMAT   oci-archive (the only format of this version)\n"
    "  -t, --tag NAME:TAG    image name and tag (default: the spec's output, else the first model)\n"
    "      --runtime PATH    amlserve binary to embed (default: beside amlpkg, or $AMLPKG_AMLSERVE)\n"
    "      --json            print the result as JSON\n"
    "  -h, --help            show this help\n"
    "\n"
    "SOURCE_DATE_EPOCH sets the timestamps in the image (default 0), so builds reproduce.\n";

struct build_options {
    const char *spec_path;
    const char *output;
    const char *tag;
    const char *runtime;
    int json;
};

static int source_date_epoch(long long *out)
{
    *out = 0;
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (!s || !s[0])
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 0 || v > 253402300799LL)
        return err_set(ERR_INVALID, "SOURCE_DATE_EPOCH: '%s' is not a number of seconds since 1970", s);
    *out = v;
    return 0;
}

/* Applies --tag NAME:TAG over the spec's output name and tag. */
static int apply_tag(struct spec *spec, const char *ref)
{
    const char *colon = strrchr(ref, ':');
    if (colon && strchr(colon, '/'))
        colon = NULL; /* a registry port, not a tag */
    char *name = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
    char *tag = colon ? strdup(colon + 1) : NULL;
    int rc = 0;
    if (!name || (colon && !tag))
        rc = err_set(ERR_NOMEM, "out of memory");
    else if (!spec_valid_image_name(name))
        rc = err_set(ERR_INVALID, "--tag: '%s' is not a valid image name", name);
    else if (tag && !spec_valid_tag(tag))
        rc = err_set(ERR_INVALID, "--tag: '%s' is not a valid tag", tag);
    if (rc) {
        free(name);
        free(tag);
        return rc;
    }
    free(spec->image_name);
    spec->image_name = name;
    if (tag) {
        free(spec->image_tag);
        spec->image_tag = tag;
    }
    return 0;
}

static char *default_output(const struct spec *spec)
{
    char *s = NULL;
    if (asprintf(&s, "%s_%s.tar", spec->image_name, spec->image_tag) < 0)
        return NULL;
    for (char *p = s; *p; p++)
        if (*p == '/')
            *p = '_';
    return s;
}

static void print_result(const struct build_options *o, const char *output, const struct oci_image *img)
{
    int64_t total = img->config.size + img->manifest.size;
    for (size_t i = 0; i < img->n_layers; i++)
        total += img->layers[i].size;
    if (!o->json) {
        printf("built %s -> %s (%zu layers, %.1f MB)\nmanifest %s\n", img->ref_name, output, img->n_layers,
               (double)total / 1e6, img->manifest.digest);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "{\"image\":");
    json_write_string(&b, img->ref_name, strlen(img->ref_name));
    buf_append_str(&b, ",\"output\":");
    json_write_string(&b, output, strlen(output));
    buf_appendf(&b, ",\"format\":\"oci-archive\",\"manifest_digest\":\"%s\",\"config_digest\":\"%s\",\"layers\":[",
                img->manifest.digest, img->config.digest);
    for (size_t i = 0; i < img->n_layers; i++)
        buf_appendf(&b, "%s{\"digest\":\"%s\",\"diff_id\":\"%s\",\"size\":%lld}", i ? "," : "",
                    img->layers[i].digest, img->layers[i].diff_id, (long long)img->layers[i].size);
    buf_appendf(&b, "],\"size\":%lld}\n", (long long)total);
    fputs(b.data, stdout);
    buf_release(&b);
}

static int parse_options(struct build_options *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"output", required_argument, NULL, 'o'}, {"tag", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'}, {"runtime", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:t:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 't': o->tag = optarg; break;
        case 'r': o->runtime = optarg; break;
        case 'j': o->json = 1; break;
        case 'f':
            if (strcmp(optarg, "oci-archive") != 0) {
                fprintf(stderr, "amlpkg build: --format '%s' is not supported (this version writes oci-archive)\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h': fputs(build_usage, stdout); return -1;
        default: fputs(build_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "amlpkg build: expected one SPEC argument\n%s", build_usage);
        return EXIT_USAGE;
    }
    o->spec_path = argv[optind];
    return 0;
}

int cmd_build(int argc, char **argv)
{
    struct build_options o = {0};
    int usage_rc = parse_options(&o, argc, argv);
    if (usage_rc)
        return usage_rc < 0 ? EXIT_OK : usage_rc;

    struct spec *spec = NULL;
    struct plan *plan = NULL;
    struct oci_image image = {0};
    char *runtime = NULL, *output = NULL, *out_dir = NULL, *work_dir = NULL;
    long long epoch;
    int rc = source_date_epoch(&epoch);
    if (rc || (rc = spec_load(&spec, o.spec_path)))
        goto done;
    if (o.tag && (rc = apply_tag(spec, o.tag)))
        goto done;
    if ((rc = model_check_spec(spec)) || (rc = runtime_locate(&runtime, o.runtime)))
        goto done;
    if ((rc = plan_build(&plan, spec, runtime, epoch)))
        goto done;
    output = o.output ? strdup(o.output) : default_output(spec);
    out_dir = output ? fs_dirname(output) : NULL;
    if (!output || !out_dir) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Blobs are staged beside the output so the final rename never crosses file systems. */
    if ((rc = fs_make_temp_dir(&work_dir, out_dir, ".amlpkg-build-")))
        goto done;
    if ((rc = oci_image_build(&image, plan, work_dir)) || (rc = oci_archive_write(&image, output, epoch)))
        goto done;
    print_result(&o, output, &image);
done:
    if (work_dir)
        fs_remove_tree(work_dir);
    oci_image_release(&image);
    plan_free(plan);
    spec_free(spec);
    free(runtime);
    free(output);
    free(out_dir);
    free(work_dir);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
