/* ld_repeat.h - requests whose ladder walk just failed, by fingerprint.
 *
 * A client library that retries a failed call sends the same request
 * again; the core answers such a repeat at once with the failure it just
 * gave instead of walking the ladder again (ld_core.h, ld_req_spec's
 * fingerprint). This is the table behind that: a fixed number of slots,
 * each a fingerprint, the workload it ran in, the class it failed with and
 * the time the entry lapses. A fingerprint hashes to a window of
 * LD_REPEAT_PROBE slots; a new entry takes a free or lapsed slot of its
 * window, else the one that lapses first. Time is an argument; nothing
 * allocates after ld_repeat_new.
 */
#ifndef LD_REPEAT_H
#define LD_REPEAT_H

#include <stdint.h>

#include "ld.h"
#include "ld_class.h"

#define LD_REPEAT_SLOTS 1024
#define LD_REPEAT_PROBE 8

typedef struct ld_repeat ld_repeat;

/* slots <= 0: LD_REPEAT_SLOTS; fewer than LD_REPEAT_PROBE are that many.
 * NULL if out of memory. */
ld_repeat *ld_repeat_new(int slots);
void ld_repeat_free(ld_repeat *t);

/* Whether fp (non-zero) has an entry that lapses after now: 1 and its
 * class in *cls (may be NULL), else 0. */
int ld_repeat_find(const ld_repeat *t, uint64_t fp, ld_us now, ld_class *cls);

/* Remember that the request fp (non-zero) of `workload` failed with cls,
 * until `until` (> now; else nothing is kept). An entry for fp already
 * there is replaced. LD_EINVAL for fp 0. */
int ld_repeat_put(ld_repeat *t, uint64_t fp, int workload, ld_class cls,
                  ld_us until, ld_us now);

/* A request of `workload` was served: its routes work again. Forget the
 * workload's entries whose class says something about the routes' health
 * (ld_class_counts_for_breaker: a 5xx, a timeout, a reset...), but not
 * those the request itself caused (a bad request, a content block, a
 * context too long), which another request's success says nothing about.
 * Returns how many of those forgotten were live at now. */
int ld_repeat_clear_workload(ld_repeat *t, int workload, ld_us now);

/* Entries that lapse after now. */
int ld_repeat_count(const ld_repeat *t, ld_us now);

#endif
