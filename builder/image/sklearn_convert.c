#include "builder/image/sklearn_convert.h"

#include "builder/image/sklearn_check.h"
#include "builder/sys/fsutil.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/path.h"
#include "common/json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const pickle_suffixes[] = {".pkl", ".pickle", ".joblib", ".sav", NULL};

static int has_pickle_suffix(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; pickle_suffixes[i]; i++) {
        size_t s = strlen(pickle_suffixes[i]);
        if (n > s && !strcmp(name + n - s, pickle_suffixes[i]))
            return 1;
    }
    return 0;
}

/* The model's pickle: the path itself, or the one pickle file in its folder. */
static int find_pickle(char **out, const struct spec *spec, const struct spec_model *m, size_t index)
{
    *out = NULL;
    if (!m->is_dir)
        return (*out = strdup(m->path)) ? 0 : err_set(ERR_NOMEM, "out of memory");
    DIR *d = opendir(m->path);
    if (!d)
        return err_set(ERR_IO, "%s:%d: models[%zu].path: cannot read '%s': %s", spec->file, m->line, index, m->path,
                       strerror(errno));
    int rc = 0, found = 0;
    struct dirent *e;
    while ((e = readdir(d)) && !rc) {
        if (e->d_name[0] == '.' || !has_pickle_suffix(e->d_name))
            continue;
        if (found++) {
            rc = err_set(ERR_INVALID, "%s:%d: models[%zu].path: '%s' holds several pickles ('%s', '%s'); name the file",
                         spec->file, m->line, index, m->path, strrchr(*out, '/') + 1, e->d_name);
            break;
        }
        if (!(*out = path_join(m->path, e->d_name)))
            rc = err_set(ERR_NOMEM, "out of memory");
    }
    closedir(d);
    if (!rc && !found)
        rc = err_set(ERR_NOTFOUND,
                     "%s:%d: models[%zu].path: no scikit-learn model (*.pkl, *.pickle, *.joblib, "
                     "*.sav) in '%s'",
                     spec->file, m->line, index, m->path);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return err_set(ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    return ok ? 0 : err_set_write(ERR_IO, "cannot write '%s'", path);
}

/* The converter's modules into dir/converter/; *out is the main script. */
static int write_converter(char **out, const char *dir)
{
    char *conv = path_join(dir, "converter");
    int rc = conv ? 0 : err_set(ERR_NOMEM, "out of memory");
    if (!rc && mkdir(conv, 0700) != 0)
        rc = err_set(ERR_IO, "cannot create '%s': %s", conv, strerror(errno));
    for (size_t i = 0; i < sklearn_n_modules && !rc; i++) {
        char *p = path_join(conv, sklearn_modules[i].name);
        rc = p ? write_text(p, sklearn_modules[i].text) : err_set(ERR_NOMEM, "out of memory");
        free(p);
    }
    if (!rc && !(*out = path_join(conv, "amlpkg_sklearn.py")))
        rc = err_set(ERR_NOMEM, "out of memory");
    free(conv);
    return rc;
}

/* Runs argv with stdout and stderr into files; *status gets the exit status (-1: not run). */
static int run_captured(const char *const *argv, const char *out_path, const char *err_path, int *status)
{
    *status = -1;
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fo < 0 || fe < 0) {
        if (fo >= 0)
            close(fo);
        if (fe >= 0)
            close(fe);
        return err_set(ERR_IO, "cannot create '%s': %s", out_path, strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        dprintf(2, "error: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fo);
    close(fe);
    if (pid < 0)
        return err_set(ERR_IO, "cannot start '%s': %s", argv[0], strerror(errno));
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return err_set(ERR_IO, "waiting for '%s': %s", argv[0], strerror(errno));
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    return 0;
}

/* Passes the converter's warnings on (and, when it failed, its other lines: a traceback is a
 * converter bug worth showing); returns the text of its last "error: " line (in b), or NULL. */
static const char *scan_stderr(struct buf *b, const char *path, int quiet, int failed)
{
    if (buf_read_file(b, path) || !b->len)
        return NULL;
    buf_append(b, "", 1);
    const char *last = NULL;
    for (char *line = b->data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "error: ", 7))
            last = line + 7;
        else if ((failed || !strncmp(line, "warning: ", 9)) && !quiet && line[0])
            fprintf(stderr, "scikit-learn converter: %s\n", line);
        line = nl ? nl + 1 : NULL;
    }
    return last;
}

/* "NAME (N features)" from the converter's one-line JSON summary, for the progress line. */
static void describe(char *out, size_t size, const char *stdout_path)
{
    struct buf b;
    struct arena a;
    buf_init(&b, 1 << 20);
    arena_init(&a, 4096, 1 << 20);
    struct json_value *doc;
    snprintf(out, size, "a scikit-learn model");
    if (!buf_read_file(&b, stdout_path) && !json_parse(&doc, &a, b.data, b.len, "summary") &&
        doc->type == JSON_OBJECT) {
        const struct json_value *est = json_member(doc, "estimator"), *nf = json_member(doc, "n_features");
        if (est && est->type == JSON_STRING && nf && nf->type == JSON_NUMBER)
            snprintf(out, size, "%.300s, %.0f features", est->as.string.ptr, nf->as.number);
    }
    err_clear();
    arena_release(&a);
    buf_release(&b);
}

static int convert_one(struct spec *spec, size_t index, const char *script, const struct sklearn_options *o)
{
    struct spec_model *m = &spec->models[index];
    const char *python = o->python ? o->python : SKLEARN_DEFAULT_PYTHON;
    char *pickle = NULL, *out = NULL, *onnx = NULL, *check = NULL, *so = NULL, *se = NULL, *named = NULL;
    char rows[24], dirname[64];
    struct buf err_text;
    buf_init(&err_text, 1 << 20);
    int rc = find_pickle(&pickle, spec, m, index);
    if (rc)
        goto done;
    snprintf(dirname, sizeof dirname, "model-%zu", index);
    snprintf(rows, sizeof rows, "%d", o->check_rows > 0 ? o->check_rows : SKLEARN_DEFAULT_CHECK_ROWS);
    out = path_join(spec->generated_dir, dirname);
    if (!out || !(onnx = path_join(out, "model.onnx")) || !(check = path_join(out, "check.json")) ||
        !(so = path_join(out, "summary.json")) || !(se = path_join(out, "stderr.txt"))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if (mkdir(out, 0700) != 0) {
        rc = err_set(ERR_IO, "cannot create '%s': %s", out, strerror(errno));
        goto done;
    }
    /* The spec's sample checks the model it describes: with several models, each gets synthesised rows. */
    const char *sample = spec->n_models == 1 ? spec->service.input_sample : NULL;
    const char *argv[20] = {
        python,         "-B", script,     "--model", pickle, "--out", out, "--method", spec_method_name(m->method),
        "--check-rows", rows, "--python", python};
    size_t n = 13;
    if (sample) {
        argv[n++] = "--sample";
        argv[n++] = sample;
    }
    argv[n] = NULL;
    int status;
    if ((rc = run_captured(argv, so, se, &status)))
        goto done;
    const char *why = scan_stderr(&err_text, se, o->quiet, status != 0);
    if (status != 0) {
        if (status == 127 && access(python, X_OK) != 0)
            rc = err_set(ERR_NOTFOUND,
                         "%s:%d: models[%zu]: converting the scikit-learn model needs Python with scikit-learn; "
                         "'%s' cannot be run (give --python)",
                         spec->file, m->line, index, python);
        else
            rc = err_set(ERR_UNSUPPORTED, "%s:%d: models[%zu].path: %s", spec->file, m->line, index,
                         why ? why : "the scikit-learn converter failed without a message");
        goto done;
    }
    int64_t checked = 0;
    if ((rc = sklearn_check_files(onnx, check, &checked))) {
        char detail[900];
        snprintf(detail, sizeof detail, "%s", err_message(rc));
        err_clear();
        rc = err_set(ERR_MISMATCH,
                     "%s:%d: models[%zu].path: the model converted from '%s' does not match scikit-learn, so it is "
                     "not packaged: %s",
                     spec->file, m->line, index, pickle, detail);
        goto done;
    }
    /* The ONNX file takes the pickle's name: model.pkl is served as model.onnx. */
    const char *base = strrchr(pickle, '/') ? strrchr(pickle, '/') + 1 : pickle;
    const char *dot = strrchr(base, '.');
    char stem[NAME_MAX];
    snprintf(stem, sizeof stem, "%.*s.onnx", (int)(dot && dot != base ? dot - base : (long)strlen(base)), base);
    if (!(named = path_join(out, stem))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if (strcmp(stem, "model.onnx") && rename(onnx, named) != 0) {
        rc = err_set(ERR_IO, "cannot rename '%s': %s", onnx, strerror(errno));
        goto done;
    }
    if (!o->quiet) {
        char what[400];
        describe(what, sizeof what, so);
        fprintf(stderr, "converted %s:%lld (%s) to ONNX-ML; it matches scikit-learn on %lld rows\n", m->name,
                m->version, what, (long long)checked);
    }
    m->source_path = m->path;
    m->path = named;
    named = NULL;
    m->is_dir = 0;
    /* Swagger describes the first model: its converter's samples unless the spec has its own. */
    if (index == 0 && !spec->service.input_sample && !spec->service.output_sample) {
        spec->service.input_sample = path_join(out, "input_sample.json");
        spec->service.output_sample = path_join(out, "output_sample.json");
        if (!spec->service.input_sample || !spec->service.output_sample)
            rc = err_set(ERR_NOMEM, "out of memory");
    }
done:
    buf_release(&err_text);
    free(pickle);
    free(out);
    free(onnx);
    free(check);
    free(so);
    free(se);
    free(named);
    return rc;
}

/* A scikit-learn model given as an .onnx file was converted already (by skl2onnx, say): served as it is. */
static int needs_conversion(const struct spec_model *m)
{
    size_t n = strlen(m->path);
    return m->sklearn && (m->is_dir || n < 5 || strcmp(m->path + n - 5, ".onnx") != 0);
}

int sklearn_convert_spec(struct spec *spec, const struct sklearn_options *o)
{
    static const struct sklearn_options defaults = {0};
    if (!o)
        o = &defaults;
    /* An entry script loads the pickle itself, in its own Python. */
    if (spec->inference.entry_script)
        return 0;
    int any = 0;
    for (size_t i = 0; i < spec->n_models; i++)
        any |= needs_conversion(&spec->models[i]);
    if (!any)
        return 0;
    char *script = NULL;
    int rc = 0;
    if (!spec->generated_dir) {
        rc = fs_make_tmp_dir(&spec->generated_dir, "amlpkg-sklearn-");
    }
    if (!rc)
        rc = write_converter(&script, spec->generated_dir);
    for (size_t i = 0; i < spec->n_models && !rc; i++)
        if (needs_conversion(&spec->models[i]))
            rc = convert_one(spec, i, script, o);
    free(script);
    return rc;
}
