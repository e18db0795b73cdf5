/* An endpoint's versions and traffic (see endpoint.h). */
#include "builder/deploy/endpoint.h"

#include "builder/image/reference.h"
#include "builder/spec/yaml_tree.h"
#include "common/err.h"
#include "common/parse_number.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = {"name", "gateway", "hostnames", "versions", NULL};
static const char *const gateway_keys[] = {"name", "namespace", NULL};
static const char *const version_keys[] = {"name", "image", "traffic", "default", "control", NULL};

/* RFC 1123 label of at most max characters. */
static int valid_label(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return 0;
    return 1;
}

static int read_label(struct yaml_tree *t, yaml_node_t *n, const char *field, size_t max, char **out)
{
    const char *s;
    int rc = yaml_tree_string(t, n, field, &s);
    if (rc)
        return rc;
    if (!valid_label(s, max))
        return err_set(ERR_INVALID,
                       "%s:%d: %s: '%s' is not a name (lower-case letters, digits and '-', at most %zu, starting and "
                       "ending with a letter or digit)",
                       t->file, yaml_tree_line(n), field, s, max);
    return (*out = strdup(s)) ? 0 : err_set(ERR_NOMEM, "out of memory");
}

static int read_version(struct endpoint *e, struct yaml_tree *t, yaml_node_t *node, size_t i)
{
    char field[64];
    snprintf(field, sizeof field, "versions[%zu]", i);
    int rc = yaml_tree_check_keys(t, node, field, version_keys);
    if (rc)
        return rc;
    struct endpoint_version *v = &e->versions[i];
    v->line = yaml_tree_line(node);
    yaml_node_t *name = yaml_tree_get(t, node, "name"), *image = yaml_tree_get(t, node, "image");
    yaml_node_t *traffic = yaml_tree_get(t, node, "traffic"), *n;
    if (!name || !image || !traffic)
        return err_set(ERR_INVALID, "%s:%d: %s: needs name, image and traffic", t->file, v->line, field);
    snprintf(field, sizeof field, "versions[%zu].name", i);
    if ((rc = read_label(t, name, field, 19, &v->name)))
        return rc;
    for (size_t j = 0; j < i; j++)
        if (!strcmp(e->versions[j].name, v->name))
            return err_set(ERR_INVALID, "%s:%d: %s: version '%s' is given twice (also line %d)", t->file,
                           yaml_tree_line(name), field, v->name, e->versions[j].line);
    const char *s;
    struct reference ref;
    snprintf(field, sizeof field, "versions[%zu].image", i);
    if ((rc = yaml_tree_string(t, image, field, &s)))
        return rc;
    if (reference_parse(&ref, s) || !ref.digest[0]) {
        err_clear();
        return err_set(ERR_INVALID, "%s:%d: %s: '%s' is not an image by digest (REF@sha256:<64 hex>)", t->file,
                       yaml_tree_line(image), field, s);
    }
    if (!(v->image = strdup(s)))
        return err_set(ERR_NOMEM, "out of memory");
    long long pct;
    snprintf(field, sizeof field, "versions[%zu].traffic", i);
    if ((rc = yaml_tree_int(t, traffic, field, 0, 100, &pct)))
        return rc;
    v->traffic = (int)pct;
    snprintf(field, sizeof field, "versions[%zu].default", i);
    if ((n = yaml_tree_get(t, node, "default")) && (rc = yaml_tree_bool(t, n, field, &v->is_default)))
        return rc;
    snprintf(field, sizeof field, "versions[%zu].control", i);
    if ((n = yaml_tree_get(t, node, "control")) && (rc = yaml_tree_bool(t, n, field, &v->is_control)))
        return rc;
    return 0;
}

/* Exactly one default, at most one control, traffic summing to 100; line: the versions list. */
static int check_versions(const struct endpoint *e, int line)
{
    int defaults = 0, controls = 0, sum = 0;
    for (size_t i = 0; i < e->n_versions; i++) {
        const struct endpoint_version *v = &e->versions[i];
        sum += v->traffic;
        if (v->is_default && defaults++)
            return err_set(ERR_INVALID, "%s:%d: versions[%zu].default: a second default version ('%s'); one only",
                           e->file, v->line, i, v->name);
        if (v->is_control && controls++)
            return err_set(ERR_INVALID, "%s:%d: versions[%zu].control: a second control version ('%s'); one only",
                           e->file, v->line, i, v->name);
    }
    if (!defaults)
        return err_set(ERR_INVALID, "%s:%d: versions: no default version (set default: true on one)", e->file, line);
    if (sum != 100)
        return err_set(ERR_INVALID, "%s:%d: versions: traffic sums to %d, not 100", e->file, line, sum);
    return 0;
}

int endpoint_load(struct endpoint **out, const char *path)
{
    *out = NULL;
    struct yaml_tree t;
    int rc = yaml_tree_load(&t, path);
    if (rc)
        return rc;
    struct endpoint *e = calloc(1, sizeof *e);
    yaml_node_t *root = yaml_tree_root(&t), *n;
    if (!e || !(e->file = strdup(path))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if (!root) {
        rc = err_set(ERR_INVALID, "%s: empty file", path);
        goto done;
    }
    if ((rc = yaml_tree_check_keys(&t, root, "", top_keys)))
        goto done;
    yaml_node_t *name = yaml_tree_get(&t, root, "name"), *gateway = yaml_tree_get(&t, root, "gateway");
    yaml_node_t *versions = yaml_tree_get(&t, root, "versions");
    if (!name || !gateway || !versions) {
        rc = err_set(ERR_INVALID, "%s:%d: %s: required field is missing", path, yaml_tree_line(root),
                     !name      ? "name"
                     : !gateway ? "gateway"
                                : "versions");
        goto done;
    }
    if ((rc = read_label(&t, name, "name", 20, &e->name)) ||
        (rc = yaml_tree_check_keys(&t, gateway, "gateway", gateway_keys)))
        goto done;
    if (!(n = yaml_tree_get(&t, gateway, "name"))) {
        rc = err_set(ERR_INVALID, "%s:%d: gateway.name: required field is missing", path, yaml_tree_line(gateway));
        goto done;
    }
    if ((rc = read_label(&t, n, "gateway.name", 63, &e->gateway_name)) ||
        ((n = yaml_tree_get(&t, gateway, "namespace")) &&
         (rc = read_label(&t, n, "gateway.namespace", 63, &e->gateway_namespace))))
        goto done;
    if ((n = yaml_tree_get(&t, root, "hostnames"))) {
        if ((rc = yaml_tree_expect(&t, n, YAML_SEQUENCE_NODE, "hostnames")))
            goto done;
        size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (count && !(e->hostnames = calloc(count, sizeof *e->hostnames))) {
            rc = err_set(ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < count && !rc; i++) {
            yaml_node_t *h = yaml_document_get_node(&t.doc, n->data.sequence.items.start[i]);
            char field[32];
            const char *s;
            snprintf(field, sizeof field, "hostnames[%zu]", i);
            if ((rc = yaml_tree_string(&t, h, field, &s)))
                break;
            /* A DNS name, optionally with a leading wildcard label, as the Gateway API takes it. */
            size_t len = strlen(s);
            int ok = len > 0 && len <= 253 && s[len - 1] != '.';
            for (size_t k = 0; ok && k < len; k++)
                ok = (s[k] >= 'a' && s[k] <= 'z') || isdigit((unsigned char)s[k]) || s[k] == '-' || s[k] == '.' ||
                     (s[k] == '*' && k == 0 && s[1] == '.');
            if (!ok)
                rc = err_set(ERR_INVALID, "%s:%d: %s: '%s' is not a host name", path, yaml_tree_line(h), field, s);
            else if (!(e->hostnames[e->n_hostnames++] = strdup(s)))
                rc = err_set(ERR_NOMEM, "out of memory");
        }
        if (rc)
            goto done;
    }
    if ((rc = yaml_tree_expect(&t, versions, YAML_SEQUENCE_NODE, "versions")))
        goto done;
    size_t count = (size_t)(versions->data.sequence.items.top - versions->data.sequence.items.start);
    if (count < 1 || count > ENDPOINT_MAX_VERSIONS) {
        rc = err_set(ERR_INVALID, "%s:%d: versions: expected 1 to %d versions, found %zu", path,
                     yaml_tree_line(versions), ENDPOINT_MAX_VERSIONS, count);
        goto done;
    }
    for (size_t i = 0; i < count && !rc; i++) {
        e->n_versions = i + 1;
        rc = read_version(e, &t, yaml_document_get_node(&t.doc, versions->data.sequence.items.start[i]), i);
    }
    if (!rc)
        rc = check_versions(e, yaml_tree_line(versions));
done:
    yaml_tree_release(&t);
    if (rc)
        endpoint_free(e);
    else
        *out = e;
    return rc;
}

int endpoint_set_traffic(struct endpoint *e, const char *text)
{
    int given[ENDPOINT_MAX_VERSIONS] = {0};
    int traffic[ENDPOINT_MAX_VERSIONS] = {0};
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return err_set(ERR_USAGE, "--set-traffic '%s': expected VERSION=PERCENT[,VERSION=PERCENT...]", text);
        size_t i = 0;
        while (i < e->n_versions &&
               (strlen(e->versions[i].name) != (size_t)(eq - p) || strncmp(e->versions[i].name, p, (size_t)(eq - p))))
            i++;
        if (i == e->n_versions)
            return err_set(ERR_INVALID, "--set-traffic: '%.*s' is not a version of %s", (int)(eq - p), p, e->file);
        if (given[i]++)
            return err_set(ERR_INVALID, "--set-traffic: version '%s' is given twice", e->versions[i].name);
        char number[8];
        size_t nlen = len - (size_t)(eq + 1 - p);
        snprintf(number, sizeof number, "%.*s", (int)(nlen < sizeof number ? nlen : sizeof number - 1), eq + 1);
        long long v;
        if (nlen >= sizeof number || parse_number_int(&v, "--set-traffic", number, 0, 100)) {
            err_clear();
            return err_set(ERR_INVALID, "--set-traffic: %s: '%.*s' is not a percentage from 0 to 100",
                           e->versions[i].name, (int)nlen, eq + 1);
        }
        traffic[i] = (int)v;
        p += len + (comma != NULL);
        if (comma && !*p)
            return err_set(ERR_USAGE, "--set-traffic '%s': a trailing comma", text);
    }
    int sum = 0;
    for (size_t i = 0; i < e->n_versions; i++)
        sum += traffic[i];
    if (sum != 100)
        return err_set(ERR_INVALID, "--set-traffic '%s': traffic sums to %d, not 100", text, sum);
    for (size_t i = 0; i < e->n_versions; i++)
        e->versions[i].traffic = traffic[i];
    return 0;
}

void endpoint_free(struct endpoint *e)
{
    if (!e)
        return;
    free(e->file);
    free(e->name);
    free(e->gateway_name);
    free(e->gateway_namespace);
    for (size_t i = 0; i < e->n_hostnames; i++)
        free(e->hostnames[i]);
    free(e->hostnames);
    for (size_t i = 0; i < e->n_versions; i++) {
        free(e->versions[i].name);
        free(e->versions[i].image);
    }
    free(e);
}
