/* The app layer's entries: the entry script and the source directory's files
 * at the app root, as Azure ML's `COPY code /var/azureml-app`, minus what
 * .amlignore (else .gitignore) excludes. Files are listed one by one, sorted,
 * so the Dockerfile context and the daemonless layer hold exactly the same
 * set. *entries and their strings are malloc'd and owned by the caller. */
#ifndef AMLPKG_PLAN_APP_H
#define AMLPKG_PLAN_APP_H

#include "builder/image/plan.h"

#include <stddef.h>

#define PLAN_APP_MAX_FILES 100000

int plan_app_entries(struct plan_entry **entries, size_t *n, const struct spec_inference *inf);
/* AZUREML_ENTRY_SCRIPT's value: the script's path relative to the app root. */
const char *plan_app_entry_script(const struct spec_inference *inf);

#endif
