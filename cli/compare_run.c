/* compare_run.c - the runs of `ladder compare`: every (scenario, policy,
 * seed) unit of the shard, on --jobs worker processes.
 *
 * The parent loads and binds every scenario first (so bad input is said
 * once, before any run), then forks the workers, which inherit the loaded
 * scenarios. The workers take the shard's units one at a time from a
 * shared counter (so a worker that gets less of the CPU, or slower units,
 * does fewer of them), each
 * from the same state (reseeded and bound afresh), so a unit's result
 * does not depend on which process ran it or what ran before; it sends
 * the unit's metrics and per-tenant figures (raw doubles) down a pipe, and
 * writes the unit's
 * --out files itself (seed 0; every (scenario, policy) directory is its
 * own). The parent puts the values in place by unit number, so the
 * tables are the same for every --jobs. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"
#include "compare_tenants.h"
#include "sim.h"

/* one unit's result on a worker's pipe: its metrics and its tenants'
 * figures (cmp_tenants_unit; NaN past the scenario's tenants) */
typedef struct unit_msg {
    int32_t unit;
    double v[NMETRICS];
    double t[CMP_UNIT_TENANT_VALUES];
} unit_msg;

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b != NULL)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double metric_of(const cJSON *s, size_t m)
{
    const char *k = compare_metrics[m].key;
    if (strncmp(k, "latency_p", 9) == 0 || strncmp(k, "ttft_p", 6) == 0) {
        char q[8];
        const char *p = strchr(k, 'p');
        size_t n = strcspn(p, "_");
        snprintf(q, sizeof q, "%.*s", (int)n, p);
        return jnum(s, k[0] == 'l' ? "latency_ms" : "ttft_ms", q);
    }
    if (strcmp(k, "fallback_rate") == 0) {
        double req = jnum(s, "requests", NULL);
        return req > 0 ? jnum(s, "fallbacks", "total") / req : NAN;
    }
    if (strcmp(k, "recovery_s") == 0 || strcmp(k, "unrecovered_share") == 0) {
        /* recovery_s: mean over the windows that recovered; a window that
         * did not is no time at all, and counts in unrecovered_share
         * (of the windows where recovery was measurable). Windows whose
         * recovery is not defined count in neither. No window: NaN. */
        const cJSON *rec = cJSON_GetObjectItemCaseSensitive(s, "recovery");
        double sum = 0;
        int recovered = 0, not_recovered = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, rec) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
            double r = jnum(it, "recovered_after_s", NULL);
            if (cJSON_IsString(st) && strcmp(st->valuestring, "recovered") == 0 &&
                !isnan(r)) {
                sum += r;
                recovered++;
            } else if (cJSON_IsString(st) &&
                       strcmp(st->valuestring, "not_recovered") == 0) {
                not_recovered++;
            }
        }
        if (k[0] == 'r')
            return recovered > 0 ? sum / recovered : NAN;
        return recovered + not_recovered > 0
                   ? (double)not_recovered / (recovered + not_recovered)
                   : NAN;
    }
    return jnum(s, k, NULL);
}

/* Scenario si's name in the tables, compare.json and --out: its own, or,
 * when an earlier scenario has that name (or one with the same directory
 * name), "NAME#2" (NAME#3...), said on stderr. */
static void unique_scenario_name(cmp *c, int si, const char *name)
{
    char *mine = c->scen_name[si], sl[128], other[128];
    size_t cap = sizeof c->scen_name[si];
    int first = -1;
    snprintf(mine, cap, "%s", name);
    for (int k = 2;; k++) {
        int clash = -1;
        cli_slug(mine, sl, sizeof sl);
        for (int s = 0; s < si && clash < 0; s++) {
            cli_slug(c->scen_name[s], other, sizeof other);
            if (strcmp(other, sl) == 0)
                clash = s;
        }
        if (clash < 0)
            break;
        if (first < 0)
            first = clash;
        char base[sizeof c->scen_name[si] - 12];
        snprintf(base, sizeof base, "%s", name);
        snprintf(mine, cap, "%s#%d", base, k % 1000);
    }
    if (first < 0)
        return;
    fprintf(stderr, "ladder compare: %s: scenario \"%s\" is named like %s's: "
            "it is \"%s\" in the results", c->scen[si], name, c->scen[first],
            mine);
    if (c->out != NULL)
        fprintf(stderr, ", its runs in %s/%s/", c->out, sl);
    fputc('\n', stderr);
}

/* mkdir dir/A, dir/A/B... for a label "A/B/C" (dir/A/B/C is made by
 * cli_write_run). */
static int make_label_dirs(const char *dir, const char *label, ld_error *err)
{
    char path[4096];
    for (const char *s = strchr(label, '/'); s != NULL; s = strchr(s + 1, '/')) {
        int w = snprintf(path, sizeof path, "%s/%.*s", dir, (int)(s - label),
                         label);
        if (w < 0 || (size_t)w >= sizeof path) {
            ld_error_set(err, dir, NULL, "path too long for label \"%s\"",
                         label);
            return LD_EINVAL;
        }
        int rc = cli_make_dir(path, err);
        if (rc < 0)
            return rc;
    }
    return LD_OK;
}


/* Load, name and bind every scenario; make the --out directories of the
 * shard's seed-0 units. */
static int prepare(cmp *c, ld_error *err)
{
    int rc = LD_OK;
    for (int si = 0; si < c->nscen && rc == LD_OK; si++) {
        sim_scenario *sc = NULL;
        if ((rc = sim_scenario_load(c->scen[si], &sc, err)) < 0)
            break;
        c->loaded[si] = sc;
        c->base_seed[si] = sc->seed;
        unique_scenario_name(c, si, sc->name);
        const char *ids[SIM_MAX_TENANTS];
        int nt = sc->traffic.ntenants;
        for (int k = 0; k < nt && k < SIM_MAX_TENANTS; k++)
            ids[k] = sc->traffic.tenants[k].id;
        if ((rc = cmp_tenants_name(c->tenants, si, nt, ids, c->scen[si],
                                   err)) < 0)
            break;
        for (int p = 0; p < c->npol && rc == LD_OK; p++) {
            if ((rc = sim_scenario_bind_opts(sc, c->pol[p].p, &c->bind,
                                             err)) < 0) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                ld_error_set(err, NULL, NULL, "with policy %s: %s",
                             c->pol[p].path, msg);
                break;
            }
            char label[300];
            snprintf(label, sizeof label, "%s, %s", sc->name, c->pol[p].label);
            if (!c->no_notes)
                cli_print_notes("compare", label, sc);
            int u0 = (si * c->seeds) * c->npol + p; /* seed 0 */
            if (c->out == NULL || !cmp_in_shard(c, u0))
                continue;
            char dir[4096], sl[128];
            cli_slug(c->scen_name[si], sl, sizeof sl);
            snprintf(dir, sizeof dir, "%s/%s", c->out, sl);
            if ((rc = cli_make_dir(dir, err)) == LD_OK)
                rc = make_label_dirs(dir, c->pol[p].label, err);
        }
    }
    return rc;
}

void compare_run_cleanup(cmp *c)
{
    for (int si = 0; si < c->nscen; si++) {
        sim_scenario_free(c->loaded[si]);
        c->loaded[si] = NULL;
    }
}

/* Run unit u: its metrics into v, its --out files when it is seed 0. */
static int run_unit(cmp *c, int u, double *v, ld_error *err)
{
    int p = u % c->npol, seed = u / c->npol % c->seeds;
    int si = u / (c->npol * c->seeds);
    sim_scenario *sc = c->loaded[si];
    sim_metrics *m = NULL;
    cJSON *sum = NULL;
    int rc;
    uint64_t want = c->base_seed[si] + c->seed_offset + (uint64_t)seed;
    if ((sc->seed != want &&
         (rc = sim_scenario_reseed(sc, want, err)) < 0) ||
        (rc = sim_scenario_bind_opts(sc, c->pol[p].p, &c->bind, err)) < 0)
        return rc;
    sim_options o = {.sc = sc, .p = c->pol[p].p, .seed = sc->seed,
                     .events_sample = 1.0};
    if ((rc = sim_run(&o, &m, NULL, err)) < 0)
        return rc;
    sum = sim_metrics_summary(m, sc->seed);
    if (sum == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        rc = LD_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < NMETRICS; k++)
        v[k] = metric_of(sum, k);
    cmp_tenants_record(c->tenants, si, p, seed, sum);
    if (seed == 0 && c->out != NULL) {
        char dir[4096], sl[128];
        cli_slug(c->scen_name[si], sl, sizeof sl);
        snprintf(dir, sizeof dir, "%s/%s/%s", c->out, sl, c->pol[p].label);
        rc = cli_write_run(dir, m, sum, err);
    }
done:
    cJSON_Delete(sum);
    sim_metrics_free(m);
    return rc;
}

/* Where unit u's metrics go in c->v. */
static double *unit_slot(cmp *c, int u)
{
    return cmp_val(c, u / (c->npol * c->seeds), u % c->npol,
                   u / c->npol % c->seeds, 0);
}

/* Where unit u's tenant figures go. */
static double *unit_tenants(cmp *c, int u)
{
    return cmp_tenants_unit(c->tenants, u / (c->npol * c->seeds),
                            u % c->npol, u / c->npol % c->seeds);
}

static void progress(const cmp *c, int done, int total)
{
    if (c->progress)
        fprintf(stderr, "\rcompare: %d/%d runs ", done, total);
}

/* Write all of buf to fd; -1 on error. */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A worker: the shard's units taken in turn from *next (the units' list
 * shared by every worker); results on fd (or, fd < 0, straight into
 * c->v). */
static int work(cmp *c, const int *units, int total, atomic_int *next, int fd,
                ld_error *err)
{
    int done = 0;
    for (;;) {
        int k = atomic_fetch_add(next, 1);
        if (k >= total)
            return LD_OK;
        int u = units[k];
        unit_msg msg = {.unit = u};
        int rc = run_unit(c, u, msg.v, err);
        if (rc < 0)
            return rc;
        /* run_unit recorded the tenants' figures in place */
        if (fd < 0) {
            memcpy(unit_slot(c, u), msg.v, sizeof msg.v);
            progress(c, ++done, total);
            continue;
        }
        memcpy(msg.t, unit_tenants(c, u), sizeof msg.t);
        if (write_all(fd, &msg, sizeof msg) < 0) {
            ld_error_set(err, NULL, NULL, "worker: cannot write its "
                         "results: %s", strerror(errno));
            return LD_ESTATE;
        }
    }
}

/* Fork the workers and gather their results. */
static int run_forked(cmp *c, const int *units, int jobs, int total,
                      ld_error *err)
{
    pid_t pid[MAX_JOBS];
    struct pollfd pf[MAX_JOBS];
    size_t got[MAX_JOBS];
    unit_msg *buf = malloc(sizeof *buf * (size_t)jobs);
    int started = 0, rc = LD_OK, done = 0;
    if (buf == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    /* the next unit to take, shared by the workers */
    atomic_int *next = mmap(NULL, sizeof *next, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (next == MAP_FAILED) {
        ld_error_set(err, NULL, NULL, "mmap: %s", strerror(errno));
        free(buf);
        return LD_ESTATE;
    }
    atomic_init(next, 0);
    fflush(stdout);
    fflush(stderr);
    for (; started < jobs; started++) {
        int fds[2];
        if (pipe(fds) != 0) {
            ld_error_set(err, NULL, NULL, "pipe: %s", strerror(errno));
            rc = LD_ESTATE;
            break;
        }
        pid_t k = fork();
        if (k < 0) {
            ld_error_set(err, NULL, NULL, "fork: %s", strerror(errno));
            close(fds[0]);
            close(fds[1]);
            rc = LD_ESTATE;
            break;
        }
        if (k == 0) {
            close(fds[0]);
            for (int i = 0; i < started; i++)
                close(pf[i].fd);
            ld_error e;
            int wrc = work(c, units, total, next, fds[1], &e);
            if (wrc < 0)
                fprintf(stderr, "ladder compare: %s\n", e.msg);
            fflush(stderr);
            _exit(wrc < 0 ? 2 : 0);
        }
        close(fds[1]);
        pid[started] = k;
        pf[started] = (struct pollfd){.fd = fds[0], .events = POLLIN};
        got[started] = 0;
    }
    int open_fds = started;
    while (open_fds > 0) {
        if (poll(pf, (nfds_t)started, -1) < 0) {
            if (errno == EINTR)
                continue;
            ld_error_set(err, NULL, NULL, "poll: %s", strerror(errno));
            rc = LD_ESTATE;
            break;
        }
        for (int i = 0; i < started; i++) {
            if (pf[i].fd < 0 || pf[i].revents == 0)
                continue;
            ssize_t n = read(pf[i].fd, (char *)&buf[i] + got[i],
                             sizeof buf[i] - got[i]);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            got[i] += (size_t)n;
            if (got[i] < sizeof buf[i])
                continue;
            got[i] = 0;
            int u = buf[i].unit;
            if (u < 0 || u >= cmp_units(c)) {
                ld_error_set(err, NULL, NULL, "worker %d sent unit %d", i, u);
                rc = LD_ESTATE;
                continue;
            }
            memcpy(unit_slot(c, u), buf[i].v, sizeof buf[i].v);
            memcpy(unit_tenants(c, u), buf[i].t, sizeof buf[i].t);
            progress(c, ++done, total);
        }
    }
    for (int i = 0; i < started; i++) {
        if (pf[i].fd >= 0)
            close(pf[i].fd);
        int ws;
        while (waitpid(pid[i], &ws, 0) < 0 && errno == EINTR)
            ;
        if (rc == LD_OK && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) {
            /* the worker said why on stderr */
            ld_error_set(err, NULL, NULL, "a worker process failed (%d of "
                         "%d runs done)", done, total);
            rc = LD_ESTATE;
        }
    }
    if (rc == LD_OK && done != total) {
        ld_error_set(err, NULL, NULL, "the workers sent %d of %d runs",
                     done, total);
        rc = LD_ESTATE;
    }
    munmap(next, sizeof *next);
    free(buf);
    return rc;
}

int compare_run(cmp *c, ld_error *err)
{
    int rc = prepare(c, err);
    if (rc < 0)
        return rc;
    int total = 0;
    int *units = malloc(sizeof *units * (size_t)(cmp_units(c) + 1));
    if (units == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    for (int u = 0; u < cmp_units(c); u++)
        if (cmp_in_shard(c, u))
            units[total++] = u;
    /* units outside the shard stay NaN */
    for (size_t i = 0; i < (size_t)cmp_units(c) * NMETRICS; i++)
        c->v[i] = NAN;
    int jobs = c->jobs < total ? c->jobs : total;
    if (jobs <= 1) {
        atomic_int next;
        atomic_init(&next, 0);
        rc = work(c, units, total, &next, -1, err);
    } else {
        rc = run_forked(c, units, jobs, total, err);
    }
    free(units);
    if (c->progress)
        fputc('\n', stderr);
    return rc;
}
