/* CPU and memory of a process tree, read from /proc, for `profile`.
 *
 * A sampler thread reads the tree (the root process and every descendant)
 * every interval: CPU time (user + system, including waited-for children) and
 * resident memory. It reports the busiest one-second window in cores, the
 * average over the run, and the peak of the tree's total RSS. The struct is
 * caller-owned: proc_usage_start / proc_usage_stop. */
#ifndef AMLPKG_PROC_USAGE_H
#define AMLPKG_PROC_USAGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

struct proc_usage {
    pid_t root;
    pthread_t thread;
    atomic_int stop;
    int running;
    /* results, valid after proc_usage_stop */
    double avg_cores;
    double peak_cores; /* the busiest ~1 s window */
    double peak_rss_mb;
    double start_rss_mb; /* at the first sample: the idle service */
    int peak_processes;
};

/* Reads one snapshot now: total CPU seconds and RSS of the tree. */
int proc_usage_snapshot(pid_t root, double *cpu_s, double *rss_mb, int *processes);
int proc_usage_start(struct proc_usage *u, pid_t root);
void proc_usage_stop(struct proc_usage *u);

#endif
