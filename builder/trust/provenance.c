#include "builder/trust/provenance.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"
#include "version.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int w_str(struct buf *b, const char *s)
{
    return json_write_string(b, s, strlen(s));
}

/* A member of a JSON object at path a.b (NULL when any step is missing). */
static const struct json_value *at(const struct json_value *v, const char *a, const char *b)
{
    v = v && v->type == JSON_OBJECT ? json_member(v, a) : NULL;
    return b ? (v && v->type == JSON_OBJECT ? json_member(v, b) : NULL) : v;
}

static const char *str(const struct json_value *v)
{
    return v && v->type == JSON_STRING ? v->as.string.ptr : NULL;
}

static void rfc3339(char out[40], long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 40, "1970-01-01T00:00:00Z");
}

/* The SHA256 checksum of an SPDX package or file, or NULL. */
static const char *spdx_sha256(const struct json_value *item)
{
    const struct json_value *cs = at(item, "checksums", NULL);
    for (const struct json_value *c = cs && cs->type == JSON_ARRAY ? cs->child : NULL; c; c = c->next) {
        const char *alg = str(at(c, "algorithm", NULL)), *val = str(at(c, "checksumValue", NULL));
        if (alg && val && !strcmp(alg, "SHA256"))
            return val;
    }
    return NULL;
}

/* resolvedDependencies: the models (SBOM files under azureml-models), amlserve and the packages it was
 * built from, the base image, the git source. */
static int dependencies(struct buf *b, const struct json_value *sbom, const struct json_value *labels)
{
    int rc = buf_append_str(b, "\"resolvedDependencies\":["), n = 0;
    const struct json_value *files = at(sbom, "files", NULL), *pkgs = at(sbom, "packages", NULL);
    for (const struct json_value *f = files && files->type == JSON_ARRAY ? files->child : NULL; f && !rc; f = f->next) {
        const char *name = str(at(f, "fileName", NULL)), *sha = spdx_sha256(f);
        if (!name || !sha || !strstr(name, "/azureml-models/"))
            continue;
        rc = buf_append_str(b, n++ ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : w_str(b, name);
        rc = rc ? rc : buf_append_str(b, ",\"digest\":{\"sha256\":");
        rc = rc ? rc : w_str(b, sha);
        rc = rc ? rc : buf_append_str(b, "},\"annotations\":{\"kind\":\"model\"}}");
    }
    for (const struct json_value *p = pkgs && pkgs->type == JSON_ARRAY ? pkgs->child : NULL; p && !rc; p = p->next) {
        const char *name = str(at(p, "name", NULL)), *ver = str(at(p, "versionInfo", NULL)), *sha = spdx_sha256(p);
        const char *purl = NULL, *comment = str(at(p, "comment", NULL));
        const struct json_value *refs = at(p, "externalRefs", NULL);
        for (const struct json_value *r = refs && refs->type == JSON_ARRAY ? refs->child : NULL; r; r = r->next)
            if (str(at(r, "referenceType", NULL)) && !strcmp(str(at(r, "referenceType", NULL)), "purl"))
                purl = str(at(r, "referenceLocator", NULL));
        const char *purpose = str(at(p, "primaryPackagePurpose", NULL));
        const char *kind = name && !strcmp(name, "amlserve")                    ? "amlserve"
                           : comment && strstr(comment, "linked into amlserve") ? "amlserve-build-input"
                           : comment && strstr(comment, "base image")           ? "base-image"
                           : purpose && !strcmp(purpose, "LIBRARY")             ? "environment-package"
                                                                                : NULL;
        if (!kind || !name)
            continue;
        rc = buf_append_str(b, n++ ? ",{\"name\":" : "{\"name\":");
        rc = rc ? rc : w_str(b, name);
        if (!rc && purl) {
            rc = buf_append_str(b, ",\"uri\":");
            rc = rc ? rc : w_str(b, purl);
        }
        if (!rc && sha) {
            rc = buf_append_str(b, ",\"digest\":{\"sha256\":");
            rc = rc ? rc : w_str(b, sha);
            rc = rc ? rc : buf_append_str(b, "}");
        }
        rc = rc ? rc : buf_appendf(b, ",\"annotations\":{\"kind\":\"%s\"", kind);
        if (!rc && ver) {
            rc = buf_append_str(b, ",\"version\":");
            rc = rc ? rc : w_str(b, ver);
        }
        rc = rc ? rc : buf_append_str(b, "}}");
    }
    const char *rev = str(at(labels, "org.opencontainers.image.revision", NULL)),
               *src = str(at(labels, "org.opencontainers.image.source", NULL));
    if (!rc && rev) {
        rc = buf_append_str(b, n++ ? ",{\"uri\":" : "{\"uri\":");
        struct buf u;
        buf_init(&u, 0);
        rc = rc ? rc : buf_appendf(&u, "git+%s@%s", src ? src : "", rev);
        rc = rc ? rc : json_write_string(b, u.data, u.len);
        buf_release(&u);
        size_t hex = strspn(rev, "0123456789abcdef");
        rc = rc ? rc
                : buf_appendf(b, ",\"digest\":{\"gitCommit\":\"%.*s\"},\"annotations\":{\"kind\":\"source\"", (int)hex,
                              rev);
        rc = rc ? rc : buf_appendf(b, ",\"dirty\":%s}}", strstr(rev, "-dirty") ? "true" : "false");
    }
    return rc ? rc : buf_append_str(b, "]");
}

int provenance_statement(struct buf *out, const struct provenance_input *in)
{
    struct arena arena;
    arena_init(&arena, 16384, 512u << 20);
    struct json_value *config = NULL, *sbom = NULL;
    int rc = json_parse(&config, &arena, in->config, in->config_len, "image config");
    if (!rc && in->sbom)
        rc = json_parse(&sbom, &arena, in->sbom, in->sbom_len, "SBOM");
    if (rc)
        goto done;
    const struct json_value *labels = at(at(config, "config", NULL), "Labels", NULL);
    const char *envkey = str(at(labels, "com.amlpkg.environment-key", NULL));
    char started[40], finished[40];
    rfc3339(started, in->started);
    rfc3339(finished, in->finished);
    rc = buf_append_str(out, "{\"_type\":\"" PROVENANCE_STATEMENT_TYPE "\",\"subject\":[{\"name\":");
    rc = rc ? rc : w_str(out, in->image_name);
    rc = rc ? rc : buf_appendf(out, ",\"digest\":{\"sha256\":\"%s\"}}],", in->image_digest + 7);
    rc = rc ? rc
            : buf_append_str(out, "\"predicateType\":\"" PROVENANCE_PREDICATE_TYPE "\",\"predicate\":{"
                                  "\"buildDefinition\":{\"buildType\":\"" PROVENANCE_BUILD_TYPE "\","
                                  "\"externalParameters\":{\"spec\":{\"path\":");
    rc = rc ? rc : w_str(out, in->spec_path);
    rc = rc ? rc : buf_appendf(out, ",\"digest\":{\"sha256\":\"%s\"}},\"image\":", in->spec_digest + 7);
    rc = rc ? rc : w_str(out, in->image_name);
    rc = rc ? rc : buf_append_str(out, "},\"internalParameters\":{\"environmentKey\":");
    rc = rc ? rc : (envkey ? w_str(out, envkey) : buf_append_str(out, "null"));
    const char *scoring = str(at(labels, "com.amlpkg.scoring", NULL));
    rc = rc ? rc : buf_append_str(out, ",\"scoring\":");
    rc = rc ? rc : (scoring ? w_str(out, scoring) : buf_append_str(out, "null"));
    const char *arch = str(at(config, "architecture", NULL)), *os = str(at(config, "os", NULL));
    rc = rc ? rc : buf_append_str(out, ",\"platform\":");
    char platform[128];
    snprintf(platform, sizeof platform, "%s/%s", os ? os : "linux", arch ? arch : "unknown");
    rc = rc ? rc : w_str(out, platform);
    rc = rc ? rc : buf_append_str(out, "},");
    rc = rc ? rc : dependencies(out, sbom, labels);
    rc = rc ? rc
            : buf_appendf(
                  out,
                  "},\"runDetails\":{\"builder\":{\"id\":\"urn:amlpkg:builder\",\"version\":{\"amlpkg\":\"%s\"}},"
                  "\"metadata\":{\"invocationId\":\"%s\",\"startedOn\":\"%s\",\"finishedOn\":\"%s\"}}}}",
                  AMLPKG_VERSION, in->image_digest, started, finished);
done:
    arena_release(&arena);
    return rc;
}

static void copy(char *out, size_t size, const char *s)
{
    snprintf(out, size, "%s", s ? s : "");
}

int provenance_check(struct provenance_summary *out, const char *statement, size_t len, const char *image_digest,
                     const char *what)
{
    memset(out, 0, sizeof *out);
    struct arena arena;
    arena_init(&arena, 16384, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, statement, len, what);
    if (rc)
        goto done;
    const char *type = str(at(root, "_type", NULL)), *ptype = str(at(root, "predicateType", NULL));
    if (!type || strcmp(type, PROVENANCE_STATEMENT_TYPE)) {
        rc = err_set(ERR_PARSE, "%s: _type: not an in-toto Statement v1 ('%s')", what, type ? type : "");
        goto done;
    }
    if (!ptype || strcmp(ptype, PROVENANCE_PREDICATE_TYPE)) {
        rc = err_set(ERR_PARSE, "%s: predicateType: not SLSA provenance v1 ('%s')", what, ptype ? ptype : "");
        goto done;
    }
    const struct json_value *subjects = at(root, "subject", NULL);
    int named = 0;
    for (const struct json_value *s = subjects && subjects->type == JSON_ARRAY ? subjects->child : NULL; s;
         s = s->next) {
        const char *sha = str(at(s, "digest", "sha256"));
        named |= sha && strlen(image_digest) > 7 && !strcmp(sha, image_digest + 7);
    }
    if (!named) {
        rc = err_set(ERR_MISMATCH, "%s: the provenance's subject is not this image (%s)", what, image_digest);
        goto done;
    }
    const struct json_value *pred = at(root, "predicate", NULL), *def = at(pred, "buildDefinition", NULL);
    copy(out->builder_id, sizeof out->builder_id, str(at(at(pred, "runDetails", "builder"), "id", NULL)));
    copy(out->build_type, sizeof out->build_type, str(at(def, "buildType", NULL)));
    const struct json_value *spec = at(at(def, "externalParameters", NULL), "spec", NULL);
    snprintf(out->spec, sizeof out->spec, "%.300s (sha256:%.64s)",
             str(at(spec, "path", NULL)) ? str(at(spec, "path", NULL)) : "?",
             str(at(spec, "digest", "sha256")) ? str(at(spec, "digest", "sha256")) : "?");
    copy(out->environment_key, sizeof out->environment_key,
         str(at(at(def, "internalParameters", NULL), "environmentKey", NULL)));
    const struct json_value *deps = at(def, "resolvedDependencies", NULL);
    for (const struct json_value *d = deps && deps->type == JSON_ARRAY ? deps->child : NULL; d; d = d->next) {
        out->n_dependencies++;
        const char *commit = str(at(d, "digest", "gitCommit"));
        if (commit)
            copy(out->revision, sizeof out->revision, commit);
    }
    copy(out->finished, sizeof out->finished, str(at(at(pred, "runDetails", "metadata"), "finishedOn", NULL)));
done:
    arena_release(&arena);
    return rc;
}
