#include "builder/image/wheel_install.h"

#include "builder/sys/digest.h"
#include "builder/sys/fs_copy.h"
#include "builder/sys/fsutil.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/sha256.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <stdint.h>
#include <unistd.h>

#define SCRIPT_MAX_BYTES (16u << 20)
#define RECORD_HASH_SIZE 64 /* "sha256=" + 43 characters of unpadded urlsafe base64 + NUL, with room */

struct written {
    char *zip_path; /* as RECORD names it */
    char *dest;     /* relative to the prefix */
    char orig_hash[RECORD_HASH_SIZE], new_hash[RECORD_HASH_SIZE];
    long long orig_size, new_size;
};

struct install {
    const struct wheel_install_target *t;
    const char *wheel;
    char dist_info[256], data_dir[256], name[128];
    struct written *files;
    size_t n_files;
    struct buf record, entry_points;
};

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

/* "sha256=" and the unpadded urlsafe base64 of the digest, as RECORD writes hashes. */
static void record_hash(char out[RECORD_HASH_SIZE], const unsigned char digest[SHA256_BYTES])
{
    char b64[BASE64_ENCODED_SIZE(SHA256_BYTES)];
    size_t n = base64_encode(b64, digest, SHA256_BYTES);
    while (n && b64[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    snprintf(out, RECORD_HASH_SIZE, "sha256=%.*s", (int)n, b64);
}

static void buffer_hash(char out[RECORD_HASH_SIZE], const void *data, size_t len)
{
    struct sha256 s;
    unsigned char d[SHA256_BYTES];
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, d);
    record_hash(out, d);
}

static int write_file(struct install *in, const char *dest, const void *data, size_t len, int mode)
{
    char *path = NULL, *dir = NULL;
    if (asprintf(&path, "%s/%s", in->t->prefix_dir, dest) < 0)
        return nomem();
    int rc = (dir = fs_dirname(path)) ? fs_make_dirs(dir) : nomem();
    int fd = rc ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (!rc && fd < 0)
        rc = err_set_errno(ERR_IO, "%s", path);
    for (size_t off = 0; !rc && off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = err_set_errno(ERR_IO, "%s: write failed", path);
        else
            off += (size_t)w;
    }
    if (fd >= 0 && close(fd) && !rc)
        rc = err_set_errno(ERR_IO, "%s", path);
    if (!rc && chmod(path, (mode_t)mode))
        rc = err_set_errno(ERR_IO, "%s", path);
    free(dir);
    free(path);
    return rc;
}

static struct written *add_written(struct install *in, const char *zip_path, const char *dest)
{
    if (in->n_files == WHEEL_INSTALL_MAX_FILES)
        return NULL;
    struct written *grown = realloc(in->files, (in->n_files + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    in->files = grown;
    struct written *w = memset(&grown[in->n_files], 0, sizeof *w);
    w->zip_path = zip_path ? strdup(zip_path) : NULL;
    w->dest = strdup(dest);
    if ((zip_path && !w->zip_path) || !w->dest) {
        free(w->zip_path);
        free(w->dest);
        return NULL;
    }
    in->n_files++;
    return w;
}

/* Where a member of the wheel goes, relative to the prefix; *script when it is a .data/scripts file. */
static int destination(char **out, int *script, struct install *in, const char *path)
{
    const char *t = in->t->site_packages;
    *script = 0;
    size_t dl = strlen(in->data_dir);
    if (!in->data_dir[0] || strncasecmp(path, in->data_dir, dl) || path[dl] != '/')
        return asprintf(out, "%s/%s", t, path) < 0 ? nomem() : 0;
    const char *rest = path + dl + 1, *slash = strchr(rest, '/');
    if (!slash || !slash[1])
        return err_set(ERR_INVALID, "%s: '%s': a .data member belongs to purelib, platlib, scripts, headers or data",
                       in->wheel, path);
    size_t sl = (size_t)(slash - rest);
    const char *file = slash + 1;
    int rc = 0;
    if ((sl == 7 && !strncmp(rest, "purelib", 7)) || (sl == 7 && !strncmp(rest, "platlib", 7))) {
        rc = asprintf(out, "%s/%s", t, file);
    } else if (sl == 7 && !strncmp(rest, "scripts", 7)) {
        *script = 1;
        rc = asprintf(out, "bin/%s", file);
    } else if (sl == 7 && !strncmp(rest, "headers", 7)) {
        int major, minor, used = 0;
        if (sscanf(t, "lib/python%d.%d/site-packages%n", &major, &minor, &used) == 2 && !t[used])
            rc = asprintf(out, "include/python%d.%d/%s/%s", major, minor, in->name, file);
        else
            rc = asprintf(out, "include/%s/%s", in->name, file);
    } else if (sl == 4 && !strncmp(rest, "data", 4)) {
        rc = asprintf(out, "%s", file);
    } else {
        return err_set(ERR_INVALID, "%s: '%s': unknown .data scheme '%.*s'", in->wheel, path, (int)sl, rest);
    }
    return rc < 0 ? nomem() : 0;
}

/* "#!python ARGS" and "#!pythonw ARGS" become "#!<the environment's python> ARGS" (PEP 427). */
static int rewrite_shebang(struct buf *out, const char *data, size_t len, const char *python)
{
    if (len >= 8 && !memcmp(data, "#!python", 8)) {
        size_t skip = 8 + (len > 8 && data[8] == 'w');
        int rc = buf_appendf(out, "#!%s", python);
        return rc ? rc : buf_append(out, data + skip, len - skip);
    }
    return buf_append(out, data, len);
}

static int read_member(struct buf *out, struct archive *a, const char *path, const char *wheel)
{
    char chunk[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0)
        if (buf_append(out, chunk, (size_t)n))
            return err_set(ERR_LIMIT, "%s: '%s' is too large", wheel, path);
    return n < 0 ? err_set(ERR_PARSE, "%s: '%s': %s", wheel, path, archive_error_string(a)) : 0;
}

/* Streams a member to its destination, hashing it on the way. */
static int extract_member(struct install *in, struct archive *a, struct archive_entry *e, const char *path)
{
    char *dest = NULL;
    int script = 0;
    int rc = destination(&dest, &script, in, path);
    if (rc)
        return rc;
    int mode = script || (archive_entry_perm(e) & 0100) ? 0755 : 0644;
    struct written *w = add_written(in, path, dest);
    if (!w) {
        free(dest);
        return in->n_files == WHEEL_INSTALL_MAX_FILES
                   ? err_set(ERR_LIMIT, "%s: more than %d files", in->wheel, WHEEL_INSTALL_MAX_FILES)
                   : nomem();
    }
    if (script) { /* small: rewritten in memory */
        struct buf body, rewritten;
        buf_init(&body, SCRIPT_MAX_BYTES);
        buf_init(&rewritten, SCRIPT_MAX_BYTES + 4096);
        rc = read_member(&body, a, path, in->wheel);
        rc = rc ? rc : rewrite_shebang(&rewritten, body.data ? body.data : "", body.len, in->t->python);
        rc = rc ? rc : write_file(in, dest, rewritten.data ? rewritten.data : "", rewritten.len, mode);
        buffer_hash(w->orig_hash, body.data ? body.data : "", body.len);
        buffer_hash(w->new_hash, rewritten.data ? rewritten.data : "", rewritten.len);
        w->orig_size = (long long)body.len;
        w->new_size = (long long)rewritten.len;
        buf_release(&body);
        buf_release(&rewritten);
        free(dest);
        return rc;
    }
    char *full = NULL, *dir = NULL;
    if (asprintf(&full, "%s/%s", in->t->prefix_dir, dest) < 0)
        full = NULL, rc = nomem();
    rc = rc ? rc : (dir = fs_dirname(full)) ? fs_make_dirs(dir) : nomem();
    int fd = rc ? -1 : open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (!rc && fd < 0)
        rc = err_set_errno(ERR_IO, "%s", full);
    struct sha256 s;
    sha256_init(&s);
    char chunk[65536];
    la_ssize_t n = 0;
    long long total = 0;
    while (!rc && (n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
        sha256_update(&s, chunk, (size_t)n);
        total += n;
        for (la_ssize_t off = 0; !rc && off < n;) {
            ssize_t wr = write(fd, chunk + off, (size_t)(n - off));
            if (wr < 0 && errno == EINTR)
                continue;
            if (wr <= 0)
                rc = err_set_errno(ERR_IO, "%s: write failed", full);
            else
                off += wr;
        }
    }
    if (!rc && n < 0)
        rc = err_set(ERR_PARSE, "%s: '%s': %s", in->wheel, path, archive_error_string(a));
    if (fd >= 0 && close(fd) && !rc)
        rc = err_set_errno(ERR_IO, "%s", full);
    if (!rc && chmod(full, (mode_t)mode))
        rc = err_set_errno(ERR_IO, "%s", full);
    unsigned char d[SHA256_BYTES];
    sha256_final(&s, d);
    record_hash(w->orig_hash, d);
    memcpy(w->new_hash, w->orig_hash, sizeof w->new_hash);
    w->orig_size = w->new_size = total;
    free(dir);
    free(full);
    free(dest);
    return rc;
}

/* The first component of path if it ends in suffix (".dist-info", ".data"), into out. */
static int top_dir_with(char *out, size_t size, const char *path, const char *suffix)
{
    const char *slash = strchr(path, '/');
    size_t l = slash ? (size_t)(slash - path) : 0, sl = strlen(suffix);
    if (!slash || l <= sl || strncmp(slash - sl, suffix, sl) || l >= size)
        return 0;
    snprintf(out, size, "%.*s", (int)l, path);
    return 1;
}

static int check_member_path(const struct install *in, const char *path, struct archive_entry *e)
{
    if (!path || !path[0] || path[0] == '/' || strchr(path, '\\') || fs_path_has_dotdot(path) || strstr(path, "//"))
        return err_set(ERR_INVALID, "%s: member '%s': absolute paths, '..' and '\\' are refused", in->wheel,
                       path ? path : "");
    if (archive_entry_filetype(e) != AE_IFREG && archive_entry_filetype(e) != AE_IFDIR)
        return err_set(ERR_INVALID, "%s: member '%s' is not a regular file (links are refused)", in->wheel, path);
    return 0;
}

static int extract(struct install *in)
{
    struct archive *a = archive_read_new();
    if (!a)
        return nomem();
    int rc = 0;
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, in->wheel, 1 << 16) != ARCHIVE_OK) {
        rc = err_set(ERR_PARSE, "%s: not a wheel (zip): %s", in->wheel, archive_error_string(a));
        goto done;
    }
    for (;;) {
        struct archive_entry *e = NULL;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = err_set(ERR_PARSE, "%s: a damaged wheel (zip): %s", in->wheel, archive_error_string(a));
            break;
        }
        const char *path = archive_entry_pathname(e);
        if ((rc = check_member_path(in, path, e)))
            break;
        if (archive_entry_filetype(e) == AE_IFDIR)
            continue;
        char top[256];
        if (top_dir_with(top, sizeof top, path, ".dist-info")) {
            if (!in->dist_info[0])
                snprintf(in->dist_info, sizeof in->dist_info, "%s", top);
            if (strcmp(top, in->dist_info)) {
                rc = err_set(ERR_INVALID, "%s: two .dist-info directories ('%s' and '%s')", in->wheel, in->dist_info,
                             top);
                break;
            }
            const char *file = path + strlen(top) + 1;
            if (!strcmp(file, "RECORD")) {
                if ((rc = read_member(&in->record, a, path, in->wheel)))
                    break;
                continue;
            }
            if (!strcmp(file, "INSTALLER"))
                continue; /* ours is written below */
            if (!strcmp(file, "entry_points.txt")) {
                struct buf copy;
                buf_init(&copy, SCRIPT_MAX_BYTES);
                rc = read_member(&in->entry_points, a, path, in->wheel);
                char *dest = NULL;
                int script;
                rc = rc ? rc : destination(&dest, &script, in, path);
                struct written *w = rc ? NULL : add_written(in, path, dest);
                if (!rc && !w)
                    rc = nomem();
                if (!rc && w) {
                    const char *d = in->entry_points.data ? in->entry_points.data : "";
                    rc = write_file(in, dest, d, in->entry_points.len, 0644);
                    buffer_hash(w->orig_hash, d, in->entry_points.len);
                    memcpy(w->new_hash, w->orig_hash, sizeof w->new_hash);
                    w->orig_size = w->new_size = (long long)in->entry_points.len;
                }
                free(dest);
                buf_release(&copy);
                if (rc)
                    break;
                continue;
            }
        }
        if ((rc = extract_member(in, a, e, path)))
            break;
    }
done:
    archive_read_free(a);
    return rc;
}

/* One field of a RECORD line (CSV: a field may be quoted, "" inside quotes is a quote); NULL at the end. */
static const char *csv_field(char *out, size_t size, const char *p)
{
    size_t o = 0;
    if (*p == '"') {
        for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
            if (*p == '"')
                p++;
            if (o + 1 < size)
                out[o++] = *p;
        }
        if (*p == '"')
            p++;
    } else {
        for (; *p && *p != ',' && *p != '\n' && *p != '\r'; p++)
            if (o + 1 < size)
                out[o++] = *p;
    }
    out[o] = '\0';
    return *p == ',' ? p + 1 : p;
}

/* Every file written must be in RECORD with its hash and size. */
static int verify_record(struct install *in)
{
    if (!in->dist_info[0])
        return err_set(ERR_INVALID, "%s: the wheel has no NAME-VERSION.dist-info directory", in->wheel);
    if (!in->record.len)
        return err_set(ERR_INVALID, "%s: the wheel has no %s/RECORD", in->wheel, in->dist_info);
    if (buf_append(&in->record, "", 1))
        return nomem();
    for (size_t i = 0; i < in->n_files; i++) {
        struct written *w = &in->files[i];
        if (!w->zip_path)
            continue;
        size_t dl = strlen(in->dist_info);
        if (!strncmp(w->zip_path, in->dist_info, dl) &&
            (!strcmp(w->zip_path + dl, "/RECORD.jws") || !strcmp(w->zip_path + dl, "/RECORD.p7s")))
            continue; /* signatures of RECORD cannot be in it */
        int found = 0;
        for (const char *line = in->record.data; line && *line && !found;) {
            char path[4096], hash[128], size[32];
            const char *p = csv_field(path, sizeof path, line);
            p = csv_field(hash, sizeof hash, p);
            csv_field(size, sizeof size, p);
            if (!strcmp(path, w->zip_path)) {
                found = 1;
                char expect_size[32];
                snprintf(expect_size, sizeof expect_size, "%lld", w->orig_size);
                if (strcmp(hash, w->orig_hash) || (size[0] && strcmp(size, expect_size)))
                    return err_set(ERR_MISMATCH, "%s: '%s' does not match RECORD (%s, %s bytes; the file has %s, %s)",
                                   in->wheel, w->zip_path, hash, size, w->orig_hash, expect_size);
            }
            line = strchr(line, '\n');
            line = line ? line + 1 : NULL;
        }
        if (!found)
            return err_set(ERR_MISMATCH, "%s: '%s' is not in RECORD", in->wheel, w->zip_path);
    }
    return 0;
}

static int valid_dotted(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (s[i] == '.' && i && i + 1 < n && s[i + 1] != '.')))
            return 0;
    return !isdigit((unsigned char)s[0]);
}

/* console_scripts and gui_scripts of entry_points.txt become launchers in bin/, as pip writes them. */
static int write_entry_points(struct install *in)
{
    if (!in->entry_points.len)
        return 0;
    if (buf_append(&in->entry_points, "", 1))
        return nomem();
    int in_scripts = 0, rc = 0;
    for (char *line = in->entry_points.data; line && *line && !rc;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        size_t l = strlen(s);
        while (l && isspace((unsigned char)s[l - 1]))
            s[--l] = '\0';
        if (*s == '[') {
            in_scripts = !strcmp(s, "[console_scripts]") || !strcmp(s, "[gui_scripts]");
        } else if (in_scripts && *s && *s != '#' && *s != ';') {
            char *eq = strchr(s, '='), *colon = eq ? strchr(eq, ':') : NULL;
            if (!eq || !colon)
                rc = err_set(ERR_INVALID, "%s: entry_points.txt: '%s': expected 'name = module:function'", in->wheel, s);
            char *name = s, *module = eq + 1, *attr = colon ? colon + 1 : NULL;
            size_t nl = eq ? (size_t)(eq - s) : 0;
            while (nl && isspace((unsigned char)name[nl - 1]))
                nl--;
            while (module && isspace((unsigned char)*module))
                module++;
            size_t ml = colon ? (size_t)(colon - module) : 0;
            while (ml && isspace((unsigned char)module[ml - 1]))
                ml--;
            while (attr && isspace((unsigned char)*attr))
                attr++;
            size_t al = attr ? strcspn(attr, " \t[") : 0;
            if (!rc && (!nl || memchr(name, '/', nl) || (nl == 1 && name[0] == '.') || (nl == 2 && !strncmp(name, "..", 2)) ||
                        !valid_dotted(module, ml) || !valid_dotted(attr, al)))
                rc = err_set(ERR_INVALID, "%s: entry_points.txt: '%s': not a valid script name or module:function",
                             in->wheel, s);
            struct buf text;
            buf_init(&text, 1 << 16);
            char *dest = NULL;
            if (!rc)
                rc = buf_appendf(&text,
                                 "#!%s\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %.*s import %.*s\n"
                                 "if __name__ == \"__main__\":\n"
                                 "    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n"
                                 "    sys.exit(%.*s())\n",
                                 in->t->python, (int)ml, module, (int)strcspn(attr, "."), attr, (int)al, attr);
            if (!rc && asprintf(&dest, "bin/%.*s", (int)nl, name) < 0)
                dest = NULL, rc = nomem();
            struct written *w = rc ? NULL : add_written(in, NULL, dest);
            if (!rc && !w)
                rc = nomem();
            if (!rc && w) {
                rc = write_file(in, dest, text.data, text.len, 0755);
                buffer_hash(w->new_hash, text.data, text.len);
                w->new_size = (long long)text.len;
            }
            free(dest);
            buf_release(&text);
        }
        line = end ? end + 1 : NULL;
    }
    return rc;
}

/* A path relative to the prefix as RECORD writes it: relative to site-packages. */
static int record_path(struct buf *out, const char *site, const char *dest)
{
    size_t sl = strlen(site);
    if (!strncmp(dest, site, sl) && dest[sl] == '/')
        return buf_append_str(out, dest + sl + 1);
    int rc = 0;
    for (const char *p = site; *p && !rc; p++)
        if (p == site || (p[-1] == '/' && *p != '/'))
            rc = buf_append_str(out, "../");
    return rc ? rc : buf_append_str(out, dest);
}

static int compare_dest(const void *a, const void *b)
{
    return strcmp(((const struct written *)a)->dest, ((const struct written *)b)->dest);
}

static int write_record(struct install *in)
{
    char installer_hash[RECORD_HASH_SIZE], *installer = NULL, *record = NULL;
    buffer_hash(installer_hash, WHEEL_INSTALL_INSTALLER "\n", strlen(WHEEL_INSTALL_INSTALLER) + 1);
    if (asprintf(&installer, "%s/%s/INSTALLER", in->t->site_packages, in->dist_info) < 0)
        return nomem();
    int rc = write_file(in, installer, WHEEL_INSTALL_INSTALLER "\n", strlen(WHEEL_INSTALL_INSTALLER) + 1, 0644);
    struct written *w = rc ? NULL : add_written(in, NULL, installer);
    if (!rc && !w)
        rc = nomem();
    if (w) {
        memcpy(w->new_hash, installer_hash, sizeof w->new_hash);
        w->new_size = (long long)strlen(WHEEL_INSTALL_INSTALLER) + 1;
    }
    if (!rc && asprintf(&record, "%s/%s/RECORD", in->t->site_packages, in->dist_info) < 0)
        record = NULL, rc = nomem();
    w = rc ? NULL : add_written(in, NULL, record);
    if (!rc && !w)
        rc = nomem();
    if (rc) {
        free(installer);
        free(record);
        return rc;
    }
    w->new_size = -1; /* RECORD lists itself without a hash */
    qsort(in->files, in->n_files, sizeof *in->files, compare_dest);
    struct buf text;
    buf_init(&text, 0);
    for (size_t i = 0; i < in->n_files && !rc; i++) {
        const struct written *f = &in->files[i];
        rc = record_path(&text, in->t->site_packages, f->dest);
        rc = rc ? rc : f->new_size < 0 ? buf_append_str(&text, ",,\n")
                                        : buf_appendf(&text, ",%s,%lld\n", f->new_hash, f->new_size);
    }
    rc = rc ? rc : write_file(in, record, text.data ? text.data : "", text.len, 0644);
    buf_release(&text);
    free(installer);
    free(record);
    return rc;
}

/* NAME-VERSION from the wheel's file name: the .dist-info and .data directories it must use. */
static int names_from_filename(struct install *in, const char *file_name)
{
    const char *base = file_name ? file_name : strrchr(in->wheel, '/') ? strrchr(in->wheel, '/') + 1 : in->wheel;
    const char *d1 = strchr(base, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
    size_t l = strlen(base);
    if (!d1 || !d2 || l < 5 || strcmp(base + l - 4, ".whl") || (size_t)(d2 - base) + 6 > sizeof in->data_dir ||
        (size_t)(d1 - base) >= sizeof in->name)
        return err_set(ERR_INVALID, "%s: not a wheel's file name (NAME-VERSION-...-PLATFORM.whl)", base);
    snprintf(in->data_dir, sizeof in->data_dir, "%.*s.data", (int)(d2 - base), base);
    snprintf(in->name, sizeof in->name, "%.*s", (int)(d1 - base), base);
    return 0;
}

int wheel_install(const char *wheel_path, const char *file_name, const char *sha256,
                  const struct wheel_install_target *t)
{
    struct install in = {.t = t, .wheel = wheel_path};
    buf_init(&in.record, 256u << 20);
    buf_init(&in.entry_points, SCRIPT_MAX_BYTES);
    int rc = 0;
    if (!t->prefix_dir || !t->site_packages || !t->python || t->site_packages[0] == '/' ||
        fs_path_has_dotdot(t->site_packages) || t->python[0] != '/')
        rc = err_set(ERR_USAGE, "wheel_install: the prefix, a relative site-packages and an absolute python are needed");
    if (!rc && sha256) {
        char have[DIGEST_STRING_SIZE];
        int64_t size = 0;
        rc = digest_file(wheel_path, have, &size);
        if (!rc && strcmp(have + 7, sha256))
            rc = err_set(ERR_MISMATCH, "%s: sha256 mismatch: the lock says %s, the file has %s", wheel_path, sha256,
                         have + 7);
    }
    rc = rc ? rc : names_from_filename(&in, file_name);
    rc = rc ? rc : extract(&in);
    rc = rc ? rc : verify_record(&in);
    rc = rc ? rc : write_entry_points(&in);
    rc = rc ? rc : write_record(&in);
    for (size_t i = 0; i < in.n_files; i++) {
        free(in.files[i].zip_path);
        free(in.files[i].dest);
    }
    free(in.files);
    buf_release(&in.record);
    buf_release(&in.entry_points);
    return rc;
}
