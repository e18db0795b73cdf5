/* libFuzzer target: .amlignore / .gitignore parsing and matching. The input
 * is the ignore file; a few fixed paths are matched against its rules. */
#include "builder/image/ignore.h"
#include "common/err.h"
#include "fuzz_files.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char file[512];
    const char *dir = fuzz_dir();
    if (!fuzz_write(file, ".amlignore", data, size))
        return 0;
    struct ignore_rules rules;
    err_clear();
    if (ignore_load(&rules, dir) == 0) {
        static const char *const paths[] = {"score.py", "data/train.csv", "a/b/c/d.log", ".git", "pkg/x.pyc", ""};
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
            ignore_match(&rules, paths[i], (int)(i & 1));
    }
    ignore_release(&rules);
    return 0;
}
