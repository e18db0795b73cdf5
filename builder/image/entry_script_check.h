/* Checks an entry script (score.py) before it is packaged or served, for what
 * Azure ML's inference server needs of it: Python syntax, a top-level run that
 * takes the input (no *args, **kwargs or positional-only parameters), and, when
 * init is there, an init callable without arguments. The script is parsed with
 * Python's ast module in the host's Python (/usr/bin/python3, else a python3
 * on PATH that runs), never imported: nothing of it executes. Without a Python
 * on the host the check is skipped. Errors name the script's file and line. */
#ifndef AMLPKG_ENTRY_SCRIPT_CHECK_H
#define AMLPKG_ENTRY_SCRIPT_CHECK_H

#include "builder/spec/spec.h"

/* 0 when the script passes or no Python is available; ERR_INVALID "score.py:LINE: ..." otherwise. */
int entry_script_check(const char *script_path);
/* The spec's entry script, if it has one. */
int entry_script_check_spec(const struct spec *spec);

#endif
