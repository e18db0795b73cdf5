/* Readable, byte-stable YAML (see kyaml.h). */
#include "builder/deploy/kyaml.h"

#include "common/err.h"
#include "common/json.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void kyaml_init(struct kyaml *y)
{
    buf_init(&y->out, 16u << 20);
    y->rc = 0;
    y->shift = 0;
}

void kyaml_release(struct kyaml *y)
{
    buf_release(&y->out);
}

int kyaml_done(struct kyaml *y)
{
    return y->rc;
}

int kyaml_plain_ok(const char *s)
{
    static const char *const special[] = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", NULL};
    if (!s[0] || !(isalnum((unsigned char)s[0]) || s[0] == '/' || s[0] == '.'))
        return 0;
    for (size_t i = 0; special[i]; i++)
        if (!strcasecmp(s, special[i]))
            return 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || strchr("._/-@+=%", c) || (c == ':' && i + 1 < n && s[i + 1] != ' ')))
            return 0;
    }
    /* Anything a YAML 1.1 reader could take for a number (1e3, 0x1F, 010, 1:30) stays a string. */
    if (isdigit((unsigned char)s[0]) || s[0] == '.') {
        if (strchr(s, ':'))
            return 0;
        char *end;
        (void)strtod(s, &end);
        if (!*end)
            return 0;
        (void)strtoll(s, &end, 0);
        if (!*end)
            return 0;
    }
    return 1;
}

static void indent_to(struct kyaml *y, int indent)
{
    indent += y->shift;
    for (int i = 0; i < indent && !y->rc; i++)
        y->rc = buf_append(&y->out, " ", 1);
}

/* Single quotes keep a value with double quotes in it (a PromQL query) readable; they escape nothing but '. */
static int single_quote_ok(const char *s)
{
    if (!strchr(s, '"') || strchr(s, '\''))
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < ' ' || *c == 0x7f)
            return 0;
    return 1;
}

static void scalar(struct kyaml *y, const char *s)
{
    if (y->rc)
        return;
    if (kyaml_plain_ok(s))
        y->rc = buf_append_str(&y->out, s);
    else if (single_quote_ok(s))
        y->rc = buf_appendf(&y->out, "'%s'", s);
    else
        y->rc = json_write_string(&y->out, s, strlen(s));
}

static void key_colon(struct kyaml *y, int indent, const char *key, const char *after)
{
    indent_to(y, indent);
    if (!y->rc)
        y->rc = buf_appendf(&y->out, "%s:%s", key, after);
}

void kyaml_comment(struct kyaml *y, int indent, const char *text)
{
    const char *p = text;
    while (*p && !y->rc) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        indent_to(y, indent);
        if (!y->rc)
            y->rc = buf_appendf(&y->out, n ? "# %.*s\n" : "#\n", (int)n, p);
        p += n + (nl != NULL);
    }
}

void kyaml_key(struct kyaml *y, int indent, const char *key)
{
    key_colon(y, indent, key, "\n");
}

void kyaml_str(struct kyaml *y, int indent, const char *key, const char *value)
{
    key_colon(y, indent, key, " ");
    scalar(y, value);
    if (!y->rc)
        y->rc = buf_append(&y->out, "\n", 1);
}

void kyaml_int(struct kyaml *y, int indent, const char *key, long long value)
{
    key_colon(y, indent, key, " ");
    if (!y->rc)
        y->rc = buf_appendf(&y->out, "%lld\n", value);
}

void kyaml_bool(struct kyaml *y, int indent, const char *key, int value)
{
    key_colon(y, indent, key, value ? " true\n" : " false\n");
}

void kyaml_item(struct kyaml *y, int indent, const char *value)
{
    indent_to(y, indent);
    if (!y->rc)
        y->rc = buf_append(&y->out, "- ", 2);
    scalar(y, value);
    if (!y->rc)
        y->rc = buf_append(&y->out, "\n", 1);
}

void kyaml_separator(struct kyaml *y)
{
    if (!y->rc)
        y->rc = buf_append(&y->out, "---\n", 4);
}
