/* Which environment steps reach the network. A step that installs from a
 * package index or a channel (pip, apt-get, apk, yum/dnf, conda/mamba, npm,
 * gem), downloads (curl, wget, ADD URL) or clones (git clone) gets whatever the
 * network serves that day: the executor re-writes its layer reproducibly, but
 * the same environment key can still give other files on another day or
 * machine, and the build says so instead of pretending. A heuristic over the
 * words of the step: it names the tool it saw; a step it misses is no less a
 * network step. */
#ifndef AMLPKG_ENV_NETWORK_H
#define AMLPKG_ENV_NETWORK_H

#include "builder/image/plan_env.h"

#include <stddef.h>

/* What in step reaches the network ("pip install from a package index"), or NULL. */
const char *env_network_reason(const char *step);
/* Prints one warning line per step of env that reaches the network (docker_steps, conda installs)
 * to stderr; returns how many. */
size_t env_network_warn(const struct plan_environment *env);

#endif
