#include "builder/env/wheel_tags.h"

#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wheel_filename_parse(struct wheel_filename *out, const char *filename, const char **why)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(filename);
    const char *parts[6];
    size_t lens[6], n = 0;
    if (len < 5 || strcmp(filename + len - 4, ".whl") || len > 4 * WHEEL_TAG_MAX) {
        *why = "not a wheel file name (NAME-VERSION-PY-ABI-PLATFORM.whl)";
        return ERR_INVALID;
    }
    len -= 4;
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i < len && filename[i] != '-')
            continue;
        if (n == 6) {
            n = 7;
            break;
        }
        parts[n] = filename + start;
        lens[n++] = i - start;
        start = i + 1;
    }
    if (n != 5 && n != 6) {
        *why = "a wheel's name has 5 or 6 '-'-separated parts (NAME-VERSION[-BUILD]-PY-ABI-PLATFORM.whl)";
        return ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++)
        if (!lens[i] || lens[i] >= WHEEL_TAG_MAX) {
            *why = "a part of the wheel's name is empty or too long";
            return ERR_INVALID;
        }
    if (pep508_normalize_name(out->name, sizeof out->name, parts[0], lens[0])) {
        *why = "the wheel's project name is not a valid name";
        return ERR_INVALID;
    }
    if (lens[1] >= sizeof out->version_text || pep440_parse(&out->version, parts[1], lens[1], why))
        return ERR_INVALID;
    memcpy(out->version_text, parts[1], lens[1]);
    size_t t = 2;
    if (n == 6) {
        if (!isdigit((unsigned char)parts[2][0]) || lens[2] >= sizeof out->build) {
            *why = "a wheel's build tag starts with a digit";
            return ERR_INVALID;
        }
        memcpy(out->build, parts[2], lens[2]);
        t = 3;
    }
    memcpy(out->py, parts[t], lens[t]);
    memcpy(out->abi, parts[t + 1], lens[t + 1]);
    memcpy(out->plat, parts[t + 2], lens[t + 2]);
    return 0;
}

/* "cp311" -> 3, 11 (minor -1 for "cp3"); 0 when tag is not prefix followed by one to four digits. */
static int python_tag(const char *tag, size_t len, const char *prefix, int *major, int *minor)
{
    size_t pl = strlen(prefix);
    if (len < pl + 1 || len > pl + 4 || strncmp(tag, prefix, pl))
        return 0;
    for (size_t i = pl; i < len; i++)
        if (!isdigit((unsigned char)tag[i]))
            return 0;
    *major = tag[pl] - '0';
    *minor = -1;
    for (size_t i = pl + 1; i < len; i++)
        *minor = (*minor < 0 ? 0 : *minor * 10) + (tag[i] - '0');
    return 1;
}

/* The group of a python-abi pair in pip's order (see the header); -1 when it does not fit t. *any says
 * the group is one of the platform-independent ones. */
static long interpreter_rank(const struct wheel_target *t, const char *py, size_t pl, const char *abi, size_t al,
                             int *any)
{
    int major, minor;
    int none = al == 4 && !strncmp(abi, "none", 4), abi3 = al == 4 && !strncmp(abi, "abi3", 4);
    *any = 0;
    if (python_tag(py, pl, "cp", &major, &minor) && major == t->py_major && minor >= 0) {
        char own[16];
        snprintf(own, sizeof own, "cp%d%d", t->py_major, t->py_minor);
        if (minor == t->py_minor && al == strlen(own) && !strncmp(abi, own, al))
            return 0;
        if (minor == t->py_minor && abi3)
            return 1;
        if (minor == t->py_minor && none)
            return *any = 1, 2; /* cpXY-none: a platform tag (rank 2) or any (rank 200) */
        if (abi3 && minor >= 2 && minor < t->py_minor)
            return 3 + (t->py_minor - 1 - minor);
        return -1;
    }
    if (!none || !python_tag(py, pl, "py", &major, &minor) || major != t->py_major)
        return -1;
    *any = 2;
    if (minor == t->py_minor)
        return 100;
    if (minor < 0)
        return 101;
    if (minor < t->py_minor)
        return 102 + (t->py_minor - 1 - minor);
    return -1;
}

/* manylinux_2_N_ARCH (and its legacy aliases) for the target's glibc: 0 for the newest it may take. */
static long platform_rank(const struct wheel_target *t, const char *plat, size_t len)
{
    char tag[WHEEL_TAG_MAX];
    if (len >= sizeof tag || t->glibc_major != 2)
        return -1;
    memcpy(tag, plat, len);
    tag[len] = '\0';
    static const struct {
        const char *prefix;
        int minor, x86_only;
    } legacy[] = {{"manylinux2014_", 17, 0}, {"manylinux2010_", 12, 1}, {"manylinux1_", 5, 1}};
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
        size_t l = strlen(legacy[i].prefix);
        if (strncmp(tag, legacy[i].prefix, l) || strcmp(tag + l, t->arch))
            continue;
        if (legacy[i].x86_only && strcmp(t->arch, "x86_64") && strcmp(t->arch, "i686"))
            return -1;
        return legacy[i].minor <= t->glibc_minor ? t->glibc_minor - legacy[i].minor : -1;
    }
    int maj = 0, min = 0, used = 0;
    if (sscanf(tag, "manylinux_%d_%d_%n", &maj, &min, &used) != 2 || !used || strcmp(tag + used, t->arch) ||
        maj != 2 || min < 0 || min > t->glibc_minor)
        return -1;
    return t->glibc_minor - min;
}

long wheel_tags_rank(const struct wheel_target *t, const struct wheel_filename *w)
{
    long best = -1;
    for (const char *py = w->py; *py; py += strcspn(py, ".") + (py[strcspn(py, ".")] == '.')) {
        size_t pl = strcspn(py, ".");
        for (const char *abi = w->abi; *abi; abi += strcspn(abi, ".") + (abi[strcspn(abi, ".")] == '.')) {
            size_t al = strcspn(abi, ".");
            int any;
            long group = interpreter_rank(t, py, pl, abi, al, &any);
            if (group < 0)
                continue;
            for (const char *plat = w->plat; *plat; plat += strcspn(plat, ".") + (plat[strcspn(plat, ".")] == '.')) {
                size_t ml = strcspn(plat, ".");
                long r = -1;
                if (ml == 3 && !strncmp(plat, "any", 3)) {
                    if (any == 1)
                        r = 200 * 1000L;
                    else if (any == 2)
                        r = (group + 101) * 1000L; /* pyXY 201, pyX 202, older 203.. */
                } else {
                    long p = platform_rank(t, plat, ml);
                    r = p < 0 ? -1 : group * 1000L + p;
                }
                if (r >= 0 && (best < 0 || r < best))
                    best = r;
            }
        }
    }
    return best;
}
