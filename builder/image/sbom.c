#include "builder/image/sbom.h"

#include "cache/cache.h"

#include "common/err.h"
#include "common/json.h"
#include "builder/spec/conda.h"
#include "builder/sys/digest.h"
#include "builder/image/digest_prefetch.h"
#include "builder/image/elf_section.h"
#include "builder/sys/fs_copy.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/image/oci_layer.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "version.h"
#define BUILD_INFO_MARKER "AMLSERVE-BUILD-INFO:"
#define BUILD_INFO_SECTION ".amlserve_build_info" /* runtime/amlserve.c */

struct sbom {
    struct buf *out;
    struct buf files;         /* the "files" array body */
    struct buf packages;      /* the "packages" array body */
    struct buf relationships; /* the "relationships" array body */
    int n_files, n_packages;
    int rc;
    struct cache *memo;               /* remembers file digests across builds (may be NULL) */
    struct digest_prefetch *prefetch; /* large files hashed during the build (may be NULL) */
};

static void add_string(struct buf *b, const char *key, const char *value, int *rc)
{
    if (*rc)
        return;
    *rc = buf_appendf(b, "\"%s\":", key);
    *rc = *rc ? *rc : json_write_string(b, value, strlen(value));
}

static void relate(struct sbom *s, const char *from, const char *type, const char *to)
{
    if (s->rc)
        return;
    s->rc = buf_appendf(&s->relationships,
                        "%s{\"spdxElementId\":\"%s\",\"relationshipType\":\"%s\",\"relatedSpdxElement\":\"%s\"}",
                        s->relationships.len ? "," : "", from, type, to);
}

/* A package entry; purl may be NULL. Returns its SPDXID in id. */
static void add_package(struct sbom *s, char id[64], const char *name, const char *version, const char *purpose,
                        const char *purl, const char *sha256_hex, const char *comment)
{
    snprintf(id, 64, "SPDXRef-Package-%d", ++s->n_packages);
    struct buf *b = &s->packages;
    int rc = s->rc ? s->rc : buf_appendf(b, "%s{\"SPDXID\":\"%s\",", b->len ? "," : "", id);
    add_string(b, "name", name, &rc);
    if (version) {
        rc = rc ? rc : buf_append(b, ",", 1);
        add_string(b, "versionInfo", version, &rc);
    }
    rc = rc ? rc
            : buf_appendf(b,
                          ",\"downloadLocation\":\"NOASSERTION\",\"filesAnalyzed\":false,"
                          "\"licenseConcluded\":\"NOASSERTION\",\"licenseDeclared\":\"NOASSERTION\","
                          "\"copyrightText\":\"NOASSERTION\",\"primaryPackagePurpose\":\"%s\"",
                          purpose);
    if (sha256_hex)
        rc = rc ? rc
                : buf_appendf(b, ",\"checksums\":[{\"algorithm\":\"SHA256\",\"checksumValue\":\"%s\"}]", sha256_hex);
    if (purl) {
        rc = rc ? rc
                : buf_append_str(b, ",\"externalRefs\":[{\"referenceCategory\":\"PACKAGE-MANAGER\","
                                    "\"referenceType\":\"purl\",");
        add_string(b, "referenceLocator", purl, &rc);
        rc = rc ? rc : buf_append_str(b, "}]");
    }
    if (comment) {
        rc = rc ? rc : buf_append(b, ",", 1);
        add_string(b, "comment", comment, &rc);
    }
    rc = rc ? rc : buf_append(b, "}", 1);
    s->rc = rc;
}

/* The file's SHA-256 as bare hex, as SPDX writes checksums. */
static int file_sha256(struct sbom *s, char hex[65], const char *path)
{
    char full[DIGEST_STRING_SIZE];
    int rc = digest_prefetch_lookup(s->prefetch, path, full) == 0 ? 0 : cache_file_digest(s->memo, path, full);
    if (!rc)
        snprintf(hex, 65, "%s", full + 7);
    return rc;
}

/* Every regular file of a host path (a file or a tree), named by its image path. */
static void add_files(struct sbom *s, const char *host, const char *image_path, const char *owner)
{
    struct stat st;
    if (s->rc || lstat(host, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        struct dirent **names = NULL;
        int n = scandir(host, &names, NULL, alphasort); /* sorted: the document is deterministic */
        for (int i = 0; i < n; i++) {
            if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
                char *h = path_join(host, names[i]->d_name), *img = path_join(image_path, names[i]->d_name);
                if (h && img)
                    add_files(s, h, img, owner);
                else
                    s->rc = err_set(ERR_NOMEM, "out of memory");
                free(h);
                free(img);
            }
            free(names[i]);
        }
        free(names);
        return;
    }
    if (!S_ISREG(st.st_mode))
        return;
    char hex[65], id[48], name[4200];
    if ((s->rc = file_sha256(s, hex, host)))
        return;
    snprintf(id, sizeof id, "SPDXRef-File-%d", ++s->n_files);
    snprintf(name, sizeof name, "/%s", image_path);
    struct buf *b = &s->files;
    int rc = buf_appendf(b, "%s{\"SPDXID\":\"%s\",", b->len ? "," : "", id);
    add_string(b, "fileName", name, &rc);
    rc = rc ? rc
            : buf_appendf(b,
                          ",\"checksums\":[{\"algorithm\":\"SHA256\",\"checksumValue\":\"%s\"}],"
                          "\"licenseConcluded\":\"NOASSERTION\",\"copyrightText\":\"NOASSERTION\"}",
                          hex);
    s->rc = rc;
    relate(s, owner, "CONTAINS", id);
}

/* The static libraries amlserve declares in its marker: {"pkg":"version",...}. */
static void add_static_libs(struct sbom *s, const char *amlserve_path, const char *amlserve_id)
{
    /* Its own section holds the marker: read just that, found from the section
     * headers. A runtime built otherwise is searched whole, mapped rather than read. */
    int fd = open(amlserve_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    uint64_t at = 0, section_len = 0;
    char *text = NULL;
    void *map = MAP_FAILED;
    if (fd >= 0 && elf_section_find(fd, BUILD_INFO_SECTION, &at, &section_len) == 0 && section_len < (1 << 20) &&
        (text = calloc(1, section_len + 1)) && pread(fd, text, section_len, (off_t)at) != (ssize_t)section_len) {
        free(text);
        text = NULL;
    }
    if (fd >= 0 && !text && fstat(fd, &st) == 0 && st.st_size > 0)
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (fd >= 0)
        close(fd);
    const char *bin = text ? text : map != MAP_FAILED ? map : NULL;
    size_t len = text ? (size_t)section_len : bin ? (size_t)st.st_size : 0;
    if (!bin)
        return; /* an SBOM without the list beats no SBOM; the binary itself is listed */
    const char *m = memmem(bin, len, BUILD_INFO_MARKER, strlen(BUILD_INFO_MARKER));
    struct arena arena;
    arena_init(&arena, 4096, 1 << 20);
    struct json_value *info = NULL;
    if (m) {
        const char *start = m + strlen(BUILD_INFO_MARKER);
        size_t info_len = strnlen(start, (size_t)(bin + len - start));
        if (json_parse(&info, &arena, start, info_len, "amlserve build info") != 0)
            info = NULL, err_clear();
    }
    for (const struct json_value *v = info && info->type == JSON_OBJECT ? info->child : NULL; v && !s->rc;
         v = v->next) {
        if (v->type != JSON_STRING)
            continue;
        char name[128], purl[300], id[64];
        snprintf(name, sizeof name, "%.*s", (int)v->key_len, v->key);
        snprintf(purl, sizeof purl, "pkg:deb/debian/%s@%s?arch=amd64", name, v->as.string.ptr);
        add_package(s, id, name, v->as.string.ptr, "LIBRARY", purl, NULL, "statically linked into amlserve");
        relate(s, amlserve_id, "STATIC_LINK", id);
    }
    arena_release(&arena);
    if (map != MAP_FAILED)
        munmap(map, len);
    free(text);
}

/* "numpy>=1.24" -> name "numpy", version "1.24" only for exact pins (== or =). */
static void dep_name_version(const char *canon, char *name, size_t name_size, char *version, size_t version_size)
{
    const char *sep = strstr(canon, "::");
    const char *p = sep ? sep + 2 : canon;
    size_t n = strcspn(p, "<>=!~ ;[");
    snprintf(name, name_size, "%.*s", (int)n, p);
    version[0] = 0;
    const char *eq = p + n;
    if (eq[0] == '=' && eq[1] == '=')
        eq += 2;
    else if (eq[0] == '=' && eq[1] != '=')
        eq += 1;
    else
        return;
    snprintf(version, version_size, "%.*s", (int)strcspn(eq, ",; *"), eq);
}

static void add_dependencies(struct sbom *s, const struct conda_env *c, const char *image_id)
{
    for (int pass = 0; c && pass < 2 && !s->rc; pass++) {
        size_t n = pass ? c->n_pip : c->n_deps;
        for (size_t i = 0; i < n && !s->rc; i++) {
            const struct conda_dep *d = pass ? &c->pip[i] : &c->deps[i];
            char name[256], version[128], purl[512], id[64];
            dep_name_version(d->canon ? d->canon : d->text, name, sizeof name, version, sizeof version);
            if (!name[0] || name[0] == '-')
                continue;
            snprintf(purl, sizeof purl, "pkg:%s/%s%s%s", pass ? "pypi" : "conda", name, version[0] ? "@" : "", version);
            add_package(s, id, name, version[0] ? version : NULL, "LIBRARY", purl, NULL,
                        pass ? "declared pip requirement" : "declared conda dependency");
            relate(s, image_id, "DEPENDS_ON", id);
        }
    }
}

int sbom_render(struct buf *out, const struct plan *plan, const struct spec *spec, const char *manifest_digest,
                struct cache *memo, struct digest_prefetch *prefetch)
{
    struct sbom s = {.out = out, .memo = memo, .prefetch = prefetch};
    buf_init(&s.files, 0);
    buf_init(&s.packages, 0);
    buf_init(&s.relationships, 0);
    const char *hex = strncmp(manifest_digest, "sha256:", 7) ? manifest_digest : manifest_digest + 7;
    char image_id[64], ref[600], purl[700];
    snprintf(ref, sizeof ref, "%s:%s", plan->image_name, plan->image_tag);
    snprintf(purl, sizeof purl, "pkg:oci/%s@sha256%%3A%s",
             strrchr(plan->image_name, '/') ? strrchr(plan->image_name, '/') + 1 : plan->image_name, hex);
    add_package(&s, image_id, ref, plan->image_tag, "CONTAINER", purl, hex, "the image, by manifest digest");
    relate(&s, "SPDXRef-DOCUMENT", "DESCRIBES", image_id);
    const struct plan_environment *e = &plan->environment;
    if (!plan_env_is_scratch(e)) {
        char base_id[64];
        add_package(&s, base_id, e->base_image, NULL, "CONTAINER", NULL, NULL, "base image");
        relate(&s, image_id, "DESCENDANT_OF", base_id);
    }
    /* Layer 0 is the runtime (amlserve); models and the app follow, each in its own layer. */
    for (size_t i = 0; i < plan->n_layers && !s.rc; i++) {
        const struct plan_layer *l = &plan->layers[i];
        char owner[64];
        snprintf(owner, sizeof owner, "%s", image_id);
        if (i == 0 && l->n_entries == 1) {
            char bin_hex[65];
            if ((s.rc = file_sha256(&s, bin_hex, l->entries[0].host_path)))
                break;
            add_package(&s, owner, "amlserve", AMLPKG_VERSION, "APPLICATION", NULL, bin_hex,
                        "the scoring runtime, statically linked");
            relate(&s, image_id, "CONTAINS", owner);
            add_static_libs(&s, l->entries[0].host_path, owner);
            continue;
        }
        for (size_t m = 0; m < spec->n_models; m++) {
            char by[600];
            snprintf(by, sizeof by, "amlpkg: model %s:%lld", spec->models[m].name, spec->models[m].version);
            if (strcmp(by, l->created_by) == 0) {
                char version[32];
                snprintf(version, sizeof version, "%lld", spec->models[m].version);
                /* A converted scikit-learn model says where its ONNX file came from. */
                char note[700];
                const char *src = spec->models[m].source_path;
                const char *slash = src ? strrchr(src, '/') : NULL;
                if (src)
                    snprintf(note, sizeof note, "%s, converted to ONNX-ML by amlpkg from '%s'",
                             spec->models[m].framework, slash && slash[1] ? slash + 1 : src);
                add_package(&s, owner, spec->models[m].name, version, "OTHER", NULL, NULL,
                            src                         ? note
                            : spec->models[m].framework ? spec->models[m].framework
                                                        : "model");
                relate(&s, image_id, "CONTAINS", owner);
            }
        }
        for (size_t j = 0; j < l->n_entries && !s.rc; j++)
            add_files(&s, l->entries[j].host_path, l->entries[j].image_path, owner);
    }
    add_dependencies(&s,
                     spec->environment.conda && !spec->environment.python_user_managed ? spec->environment.conda : NULL,
                     image_id);
    int rc = s.rc;
    rc = rc ? rc
            : buf_appendf(out, "{\"spdxVersion\":\"SPDX-2.3\",\"dataLicense\":\"CC0-1.0\","
                               "\"SPDXID\":\"SPDXRef-DOCUMENT\",");
    add_string(out, "name", ref, &rc);
    rc = rc ? rc
            : buf_appendf(out,
                          ",\"documentNamespace\":\"https://amlpkg.dev/spdx/%s\","
                          "\"creationInfo\":{\"created\":\"%s\",\"creators\":[\"Tool: amlpkg-%s\"]},"
                          "\"packages\":[",
                          hex, plan->created_text, AMLPKG_VERSION);
    rc = rc ? rc : buf_append(out, s.packages.data ? s.packages.data : "", s.packages.len);
    rc = rc ? rc : buf_append_str(out, "],\"files\":[");
    rc = rc ? rc : buf_append(out, s.files.data ? s.files.data : "", s.files.len);
    rc = rc ? rc : buf_append_str(out, "],\"relationships\":[");
    rc = rc ? rc : buf_append(out, s.relationships.data ? s.relationships.data : "", s.relationships.len);
    rc = rc ? rc : buf_append_str(out, "]}\n");
    buf_release(&s.files);
    buf_release(&s.packages);
    buf_release(&s.relationships);
    return rc;
}

int sbom_write(const char *path, const struct plan *plan, const struct spec *spec, const char *manifest_digest,
               struct cache *memo, struct digest_prefetch *prefetch, int sync)
{
    struct buf text;
    buf_init(&text, 0);
    FILE *f = NULL;
    char *tmp = NULL;
    int rc = sbom_render(&text, plan, spec, manifest_digest, memo, prefetch);
    rc = rc ? rc : fs_temp_beside(&f, &tmp, path);
    if (!rc && fwrite(text.data, 1, text.len, f) != text.len) {
        fclose(f);
        unlink(tmp);
        rc = err_set_write(ERR_IO, "cannot write '%s'", path);
    } else if (!rc) {
        rc = fs_publish(f, tmp, path, sync);
    }
    free(tmp);
    buf_release(&text);
    return rc;
}

/* A small file in dir named by its own digest, described as blob. */
static int write_blob(struct oci_blob *blob, const char *dir, const void *data, size_t len, const char *media_type)
{
    memset(blob, 0, sizeof *blob);
    int rc = digest_buffer(blob->digest, data, len);
    if (!rc && !(blob->path = path_join(dir, blob->digest + 7)))
        rc = err_set(ERR_NOMEM, "out of memory");
    FILE *f = rc ? NULL : fopen(blob->path, "wb");
    if (!rc && !f)
        rc = err_set_errno(ERR_IO, "cannot create '%s'", blob->path);
    if (f && (fwrite(data, 1, len, f) != len) + (fclose(f) != 0))
        rc = err_set_write(ERR_IO, "cannot write '%s'", blob->path);
    blob->size = (int64_t)len;
    blob->media_type = media_type;
    return rc;
}

int sbom_artifact(struct oci_blob blobs[2], struct oci_blob *manifest, const char *work_dir, const char *sbom_path,
                  const struct oci_image *image)
{
    struct buf text, doc;
    buf_init(&text, 256u << 20);
    buf_init(&doc, 0);
    int rc = buf_read_file(&text, sbom_path);
    rc = rc ? rc : write_blob(&blobs[0], work_dir, "{}", 2, "application/vnd.oci.empty.v1+json");
    rc = rc ? rc : write_blob(&blobs[1], work_dir, text.data, text.len, SBOM_ARTIFACT_TYPE);
    rc = rc ? rc
            : buf_appendf(&doc,
                          "{\"artifactType\":\"" SBOM_ARTIFACT_TYPE "\",\"config\":{\"digest\":\"%s\","
                          "\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"size\":2},"
                          "\"layers\":[{\"digest\":\"%s\",\"mediaType\":\"" SBOM_ARTIFACT_TYPE "\",\"size\":%lld}],"
                          "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2,"
                          "\"subject\":{\"digest\":\"%s\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                          "\"size\":%lld}}",
                          blobs[0].digest, blobs[1].digest, (long long)blobs[1].size, image->manifest.digest,
                          (long long)image->manifest.size);
    rc = rc ? rc : write_blob(manifest, work_dir, doc.data, doc.len, "application/vnd.oci.image.manifest.v1+json");
    buf_release(&text);
    buf_release(&doc);
    return rc;
}

int sbom_artifact_layout(const char *dir, const struct oci_blob blobs[2], const struct oci_blob *manifest)
{
    char path[4200];
    const struct oci_blob *all[3] = {&blobs[0], &blobs[1], manifest};
    snprintf(path, sizeof path, "%s/blobs/sha256", dir);
    int rc = fs_make_dirs(path);
    for (int i = 0; i < 3 && !rc; i++) {
        snprintf(path, sizeof path, "%s/blobs/sha256/%s", dir, all[i]->digest + 7);
        /* The blobs sit beside the layout: a relative target would resolve from the link's folder. */
        char *target = realpath(all[i]->path, NULL);
        if (!target || symlink(target, path) != 0)
            rc = err_set_errno(ERR_IO, "cannot link '%s'", path);
        free(target);
    }
    struct buf index;
    buf_init(&index, 0);
    rc = rc ? rc
            : buf_appendf(&index,
                          "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
                          "\"size\":%lld}]}",
                          manifest->media_type, manifest->digest, (long long)manifest->size);
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    const char *names[2] = {"index.json", "oci-layout"};
    const char *texts[2] = {index.data, layout};
    for (int i = 0; i < 2 && !rc; i++) {
        path_join_into(path, sizeof path, dir, names[i]);
        FILE *f = fopen(path, "w");
        if (!f || (fputs(texts[i], f) < 0) + (fclose(f) != 0))
            rc = err_set_write(ERR_IO, "cannot write '%s'", path);
    }
    buf_release(&index);
    return rc;
}
