/* sim_fit_int.h - what the fitter's files share (private to
 * sim/sim_fit*.c): the fit's state and its groups.
 *
 * sim_fit.c           reading the CSV (header, options, rows), fitting each
 *                     group, assigning routes, the accessors
 * sim_fit_dist.c      the distributions: lognormal and normal fits, KS
 * sim_fit_classify.c  an error code and message to a failure class
 * sim_fit_json.c      the fitted groups as a scenario's "providers"
 */
#ifndef SIM_FIT_INT_H
#define SIM_FIT_INT_H

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "sim_fit.h"

#define NSLOTS (2 * SIM_FIT_MAX_GROUPS) /* hash slots, a power of two */
#define NOTE_LEN 200
#define SHOW_LEN 40      /* bytes of a bad value quoted in a note */
#define PHRASE_SCAN 2048 /* bytes of a message scanned for phrases */
#define SIGMA_FLOOR 1e-6 /* a lognormal needs sigma > 0 */
#define TPS_MIN 1.0      /* the normal speed model's clamp */
#define KS_CRIT_5PCT 1.358

typedef struct grp {
    sim_fit_group g;
    double *ttft, *tps; /* successes */
    size_t n, cap;
} grp;

struct sim_fit {
    grp **groups;
    size_t ngroups, cap;
    int *slots; /* index into groups + 1; 0: empty */
    size_t nfitted;
    int64_t records, skipped;
    char notes[SIM_FIT_MAX_NOTES][NOTE_LEN];
    size_t nnotes;
    char **unmatched;
    size_t nunmatched;
    int64_t min_samples;
    char name[256];
};

/* Column indices for one file; -1: absent. */
typedef struct cols {
    int by[SIM_FIT_MAX_BY];
    size_t nby;
    int ttft, e2e, out, tps, err, msg;
    size_t nheader;
} cols;

#endif
