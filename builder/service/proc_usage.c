#include "builder/service/proc_usage.h"

#include "common/err.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SAMPLE_MS 100
#define WINDOW_SAMPLES 10 /* peak CPU over one second */
#define MAX_TREE 4096

/* utime, stime, cutime, cstime (fields 14-17) and ppid (field 4) of one process. */
static int read_stat(pid_t pid, pid_t *ppid, double *cpu_ticks)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(text, ')');
    if (!p)
        return -1;
    int parent = 0;
    unsigned long long ut, st;
    long long cut, cst;
    if (sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &parent, &ut, &st, &cut,
               &cst) != 5)
        return -1;
    *ppid = parent;
    *cpu_ticks = (double)ut + (double)st + (double)cut + (double)cst;
    return 0;
}

static double read_rss_mb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    long long size = 0, resident = 0;
    int ok = f && fscanf(f, "%lld %lld", &size, &resident) == 2;
    if (f)
        fclose(f);
    return ok ? (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0) : 0;
}

int proc_usage_snapshot(pid_t root, double *cpu_s, double *rss_mb, int *processes)
{
    /* Every process with its parent, then the tree grows from root until no new member appears. */
    enum { MAX_PROCS = 65536 };
    pid_t *pids = malloc(MAX_PROCS * sizeof *pids), *parents = malloc(MAX_PROCS * sizeof *parents);
    double *ticks = malloc(MAX_PROCS * sizeof *ticks);
    DIR *d = pids && parents && ticks ? opendir("/proc") : NULL;
    if (!d) {
        free(pids), free(parents), free(ticks);
        return err_set_errno(ERR_IO, "cannot read /proc");
    }
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < MAX_PROCS) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        if (read_stat((pid_t)pid, &parents[n], &ticks[n]) == 0)
            pids[n++] = (pid_t)pid;
    }
    closedir(d);
    pid_t tree[MAX_TREE];
    size_t members = 0;
    tree[members++] = root;
    for (size_t i = 0; i < members; i++)
        for (size_t j = 0; j < n && members < MAX_TREE; j++)
            if (parents[j] == tree[i])
                tree[members++] = pids[j];
    double total_ticks = 0, rss = 0;
    for (size_t i = 0; i < members; i++) {
        for (size_t j = 0; j < n; j++)
            if (pids[j] == tree[i]) {
                total_ticks += ticks[j];
                break;
            }
        rss += read_rss_mb(tree[i]);
    }
    free(pids), free(parents), free(ticks);
    *cpu_s = total_ticks / (double)sysconf(_SC_CLK_TCK);
    *rss_mb = rss;
    *processes = (int)members;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *sampler(void *arg)
{
    struct proc_usage *u = arg;
    double cpu_hist[WINDOW_SAMPLES + 1], time_hist[WINDOW_SAMPLES + 1];
    int filled = 0, processes = 0;
    double first_cpu = 0, first_t = 0, cpu = 0, rss = 0, t = 0;
    while (!atomic_load(&u->stop)) {
        if (proc_usage_snapshot(u->root, &cpu, &rss, &processes))
            break;
        t = now_s();
        if (!filled) {
            first_cpu = cpu;
            first_t = t;
            u->start_rss_mb = rss;
        }
        if (rss > u->peak_rss_mb)
            u->peak_rss_mb = rss;
        if (processes > u->peak_processes)
            u->peak_processes = processes;
        /* Ring of the last second of samples: the window's CPU over its wall time. */
        int slot = filled % (WINDOW_SAMPLES + 1);
        cpu_hist[slot] = cpu;
        time_hist[slot] = t;
        if (filled >= WINDOW_SAMPLES) {
            int oldest = (filled - WINDOW_SAMPLES) % (WINDOW_SAMPLES + 1);
            double cores = (cpu - cpu_hist[oldest]) / (t - time_hist[oldest]);
            if (cores > u->peak_cores)
                u->peak_cores = cores;
        }
        filled++;
        struct timespec tick = {0, SAMPLE_MS * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    /* A last reading at the stop, so even a run shorter than one sample has an average. */
    if (filled && proc_usage_snapshot(u->root, &cpu, &rss, &processes) == 0) {
        t = now_s();
        if (rss > u->peak_rss_mb)
            u->peak_rss_mb = rss;
    }
    if (filled && t > first_t)
        u->avg_cores = (cpu - first_cpu) / (t - first_t);
    if (filled && filled <= WINDOW_SAMPLES && u->avg_cores > u->peak_cores)
        u->peak_cores = u->avg_cores; /* a run shorter than the window */
    return NULL;
}

int proc_usage_start(struct proc_usage *u, pid_t root)
{
    memset(u, 0, sizeof *u);
    u->root = root;
    if (pthread_create(&u->thread, NULL, sampler, u))
        return err_set(ERR_IO, "cannot start the usage sampler");
    u->running = 1;
    return 0;
}

void proc_usage_stop(struct proc_usage *u)
{
    if (!u->running)
        return;
    atomic_store(&u->stop, 1);
    pthread_join(u->thread, NULL);
    u->running = 0;
}
