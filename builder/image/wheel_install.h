/* Installing a wheel into an environment's prefix, as PEP 427 (the binary distribution format) says and
 * pip does, without Python: for the materializer that builds an environment layer from a lock
 * (issue 19). It writes into a staging copy of the prefix on disk; the image path of the prefix only
 * appears in script shebangs.
 *
 *   NAME-VER.dist-info/...             -> <site-packages>/NAME-VER.dist-info/...
 *   everything else at the top level   -> <site-packages>/... (purelib and platlib alike)
 *   NAME-VER.data/purelib|platlib/...  -> <site-packages>/...
 *   NAME-VER.data/scripts/...          -> bin/... ("#!python" / "#!pythonw" rewritten to the
 *                                         environment's python), mode 0755
 *   NAME-VER.data/headers/...          -> include/pythonX.Y/NAME/... (include/NAME/... when the
 *                                         site-packages path names no python version)
 *   NAME-VER.data/data/...             -> the prefix itself
 *   entry_points.txt console_scripts and gui_scripts -> bin/NAME, pip's launcher script
 *
 * Every file is checked against the wheel's RECORD (sha256, size) as it is written: a file missing from
 * RECORD or with another hash fails the install. Then INSTALLER ("amlpkg") is written and RECORD
 * rewritten for the installed paths (relative to site-packages, "../../../bin/x" for scripts; the
 * rewritten scripts and INSTALLER with their new hashes; sorted, so the output is deterministic).
 * Absolute paths, "..", links and device entries are refused. File modes are 0644, or 0755 when the
 * wheel marks a file executable; times are left to the layer writer.
 *
 * On error the staging directory holds a partial install: discard it (the materializer stages each
 * layer in a fresh directory). */
#ifndef AMLPKG_WHEEL_INSTALL_H
#define AMLPKG_WHEEL_INSTALL_H

#define WHEEL_INSTALL_MAX_FILES 200000
#define WHEEL_INSTALL_INSTALLER "amlpkg"

struct wheel_install_target {
    const char *prefix_dir;    /* on disk: the staged prefix (e.g. STAGE/azureml-envs/azureml_KEY) */
    const char *site_packages; /* relative to the prefix: "lib/python3.11/site-packages" */
    const char *python;        /* the interpreter as the image runs it: "/azureml-envs/azureml_KEY/bin/python" */
};

/* Installs the wheel at wheel_path; file_name is its wheel file name (NAME-VERSION-...whl, which says
 * where its .dist-info lies) when the path does not end in it (a cache blob), else NULL; sha256 (64 hex,
 * may be NULL) is checked against the file first. */
int wheel_install(const char *wheel_path, const char *file_name, const char *sha256,
                  const struct wheel_install_target *t);

#endif
