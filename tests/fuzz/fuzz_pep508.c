/* libFuzzer target: PEP 508 requirements and environment markers (builder/spec/pep508.c) and wheel file
 * names and tags (builder/env/wheel_tags.c). The input is a requirement line, or a wheel's name. */
#include "builder/env/wheel_tags.h"
#include "builder/spec/pep508.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    static const struct pep508_env env = {.python_version = "3.11", .python_full_version = "3.11.4",
                                          .os_name = "posix", .sys_platform = "linux",
                                          .platform_machine = "x86_64", .platform_system = "Linux",
                                          .implementation_name = "cpython"};
    struct pep508_req *r = malloc(sizeof *r);
    const char *why;
    if (r && !pep508_parse(r, s, &why)) {
        int v = pep508_marker_eval(r->marker, &env, "test", &why);
        if (v != 0 && v != 1) /* it parsed, so it evaluates */
            abort();
    }
    struct wheel_filename w;
    const struct wheel_target t = {.py_major = 3, .py_minor = 11, .glibc_major = 2, .glibc_minor = 35, .arch = "x86_64"};
    if (!wheel_filename_parse(&w, s, &why) && wheel_tags_rank(&t, &w) < -1)
        abort();
    free(r);
    free(s);
    return 0;
}
