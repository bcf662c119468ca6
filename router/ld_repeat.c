/* ld_repeat.c - the table of failed walks (ld_repeat.h). */
#include <stdbool.h>
#include <stdlib.h>

#include "ld_repeat.h"

typedef struct slot {
    uint64_t fp;   /* 0: free */
    ld_us until;
    int workload;
    ld_class cls;
} slot;

struct ld_repeat {
    int nslots;
    int used;      /* slots with fp != 0, lapsed or not */
    slot *s;
};

ld_repeat *ld_repeat_new(int slots)
{
    if (slots <= 0)
        slots = LD_REPEAT_SLOTS;
    if (slots < LD_REPEAT_PROBE)
        slots = LD_REPEAT_PROBE;
    ld_repeat *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->s = calloc((size_t)slots, sizeof *t->s);
    if (t->s == NULL) {
        free(t);
        return NULL;
    }
    t->nslots = slots;
    return t;
}

void ld_repeat_free(ld_repeat *t)
{
    if (t == NULL)
        return;
    free(t->s);
    free(t);
}

/* Spread the fingerprint's bits (a host may pass a hash that is weak in
 * its low bits) over the slots: the splitmix64 finalizer. */
static int home(const ld_repeat *t, uint64_t fp)
{
    uint64_t z = fp;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (int)(z % (uint64_t)t->nslots);
}

int ld_repeat_find(const ld_repeat *t, uint64_t fp, ld_us now, ld_class *cls)
{
    if (t == NULL || fp == 0 || t->used == 0)
        return 0;
    int h = home(t, fp);
    for (int i = 0; i < LD_REPEAT_PROBE; i++) {
        const slot *e = &t->s[(h + i) % t->nslots];
        if (e->fp == fp && e->until > now) {
            if (cls != NULL)
                *cls = e->cls;
            return 1;
        }
    }
    return 0;
}

int ld_repeat_put(ld_repeat *t, uint64_t fp, int workload, ld_class cls,
                  ld_us until, ld_us now)
{
    if (t == NULL || fp == 0)
        return LD_EINVAL;
    if (until <= now)
        return LD_OK;
    int h = home(t, fp);
    slot *pick = NULL, *same = NULL;
    for (int i = 0; i < LD_REPEAT_PROBE; i++) {
        slot *e = &t->s[(h + i) % t->nslots];
        if (e->fp == fp)
            same = e;
        /* the first free or lapsed slot, else the one lapsing first */
        bool gone = e->fp == 0 || e->until <= now;
        bool pick_gone = pick != NULL && (pick->fp == 0 || pick->until <= now);
        if (pick == NULL || (gone && !pick_gone) ||
            (!gone && !pick_gone && e->until < pick->until))
            pick = e;
    }
    if (same != NULL)
        pick = same;
    if (pick->fp == 0)
        t->used++;
    pick->fp = fp;
    pick->until = until;
    pick->workload = workload;
    pick->cls = cls;
    return LD_OK;
}

int ld_repeat_clear_workload(ld_repeat *t, int workload, ld_us now)
{
    int live = 0;
    if (t == NULL || t->used == 0)
        return 0;
    for (int i = 0; i < t->nslots; i++) {
        slot *e = &t->s[i];
        if (e->fp == 0 || e->workload != workload ||
            !ld_class_counts_for_breaker(e->cls))
            continue;
        live += e->until > now;
        e->fp = 0;
        t->used--;
    }
    return live;
}

int ld_repeat_count(const ld_repeat *t, ld_us now)
{
    int n = 0;
    if (t == NULL || t->used == 0)
        return 0;
    for (int i = 0; i < t->nslots; i++)
        n += t->s[i].fp != 0 && t->s[i].until > now;
    return n;
}
