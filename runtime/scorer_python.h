/* Scoring with an Azure ML entry script (score.py) in Python worker processes.
 *
 * Each worker is `python3 -c <templates/amlserve_worker.py>` with one end of
 * a socketpair; requests and answers travel as framed messages (lengths +
 * JSON meta + raw body), never as HTTP. Worker i belongs to scoring thread i,
 * so a call never waits for a lock. A worker whose run() exceeds the scoring
 * timeout, or that dies, is killed and replaced; the request gets a 500.
 * scorer_python_new starts every worker and waits until each init() returned. */
#ifndef AMLSERVE_SCORER_PYTHON_H
#define AMLSERVE_SCORER_PYTHON_H

#include "runtime/scorer.h"

struct python_options {
    const char *entry_script;     /* path to score.py */
    const char *source_directory; /* added to sys.path; NULL: the script's folder */
    const char *interpreter;      /* NULL: $AZUREML_PYTHON, else "python3" */
    int workers;                  /* one per scoring thread */
    int timeout_ms;               /* scoring timeout; 0: none */
};

int scorer_python_new(struct scorer **out, const struct python_options *opts);
/* 1 when a decorated run()'s schemas need OpenAPI 3 (inference-schema's supported versions lack 2.0). */
int scorer_python_swagger2_unsupported(const struct scorer *s);
/* Workers replaced after a crash or a timeout since start. */
long scorer_python_restarts(const struct scorer *s);

#endif
