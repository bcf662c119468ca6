/* testutil.h - helpers shared by the cmocka unit tests. */
#ifndef LD_TESTUTIL_H
#define LD_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ld.h"

/* cmocka 1.1.5 has no double comparison. */
#define assert_near(a, b, eps)                                              \
    do {                                                                    \
        double a_ = (double)(a), b_ = (double)(b), e_ = (double)(eps);      \
        if (!(fabs(a_ - b_) <= e_)) {                                       \
            char m_[160];                                                   \
            snprintf(m_, sizeof m_, "%.9g is not within %.3g of %.9g", a_,  \
                     e_, b_);                                               \
            fail_msg("%s", m_);                                             \
        }                                                                   \
    } while (0)

/* A scripted RNG: returns values[i++ % n]; with n == 0 always 0.5. */
typedef struct test_rng {
    const double *values;
    size_t n, i;
} test_rng;

static inline double test_rng_uniform(void *ctx)
{
    test_rng *t = ctx;
    if (t->n == 0)
        return 0.5;
    return t->values[t->i++ % t->n];
}

static inline ld_rng test_rng_make(test_rng *t)
{
    ld_rng r = {test_rng_uniform, t};
    return r;
}

#endif
