/* ld.h - types shared by every part of the Ladder routing core.
 *
 * The core never reads a clock, never draws from a global RNG and does no
 * I/O: time arrives as ld_us arguments, randomness through an ld_rng the host
 * owns, and errors leave through an ld_error the caller provides.
 */
#ifndef LD_H
#define LD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Time in integer microseconds. Absolute times share an epoch the host picks
 * (the simulator starts at 0; the live router uses a monotonic clock). */
typedef int64_t ld_us;

#define LD_US_PER_MS ((ld_us)1000)
#define LD_US_PER_S ((ld_us)1000000)
#define LD_NEVER INT64_MAX

#define ld_ms(x) ((ld_us)(x) * LD_US_PER_MS)
#define ld_s(x) ((ld_us)(x) * LD_US_PER_S)

/* Status codes: 0 is success, failures are negative. */
enum {
    LD_OK = 0,
    LD_EINVAL = -1,  /* bad argument or bad input */
    LD_ENOMEM = -2,  /* an allocation failed */
    LD_ESTATE = -3,  /* the call does not fit the object's state */
    LD_ELIMIT = -4,  /* a configured cap was reached */
    LD_ENOENT = -5   /* no such name */
};

/* Randomness, supplied by the host. uniform() returns a double in [0, 1).
 * Tests pass a scripted sequence; hosts wrap a seeded GSL generator. */
typedef struct ld_rng {
    double (*uniform)(void *ctx);
    void *ctx;
} ld_rng;

/* An error message for people: names the file, the place in it (a JSON path
 * such as workloads.chat.ladder[2], or line:column) and what is wrong. */
typedef struct ld_error {
    char msg[1024];
} ld_error;

/* Fill err (if not NULL) with "file: where: message". file and where may be
 * NULL or empty, in which case they and their separator are left out. */
void ld_error_set(ld_error *err, const char *file, const char *where,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
