/* outputs.c - the files a run leaves in an --out directory, shared by
 * `ladder sim` and `ladder compare`, and read by `ladder plot`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int write_with(const char *dir, const char *name,
                      int (*fn)(const sim_metrics *, FILE *),
                      const sim_metrics *m, ld_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        ld_error_set(err, path, NULL, "cannot write: %s", strerror(errno));
        return LD_EINVAL;
    }
    int rc = fn(m, f);
    if (fclose(f) != 0 || rc < 0) {
        ld_error_set(err, path, NULL, "cannot write");
        return LD_EINVAL;
    }
    return LD_OK;
}

int cli_print_json(const cJSON *obj, ld_error *err)
{
    char *s = cJSON_Print(obj);
    if (s == NULL) {
        ld_error_set(err, NULL, NULL, "out of memory");
        return LD_ENOMEM;
    }
    int w = puts(s);
    cJSON_free(s);
    if (w < 0 || fflush(stdout) != 0) {
        ld_error_set(err, "stdout", NULL, "write error");
        return LD_EINVAL;
    }
    return LD_OK;
}

int cli_write_run(const char *dir, const sim_metrics *m, const cJSON *summary,
                  ld_error *err)
{
    char path[4096];
    int rc = cli_make_dir(dir, err);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "%s/summary.json", dir);
    if ((rc = cli_write_json(path, summary, err)) < 0 ||
        (rc = write_with(dir, "timeseries.csv", sim_metrics_write_timeseries,
                         m, err)) < 0 ||
        (rc = write_with(dir, "cdf.csv", sim_metrics_write_cdf, m, err)) < 0 ||
        (rc = write_with(dir, "faults.csv", sim_metrics_write_faults, m,
                         err)) < 0)
        return rc;
    return LD_OK;
}
