/* fuzz.h - what the libFuzzer targets of tests/fuzz share: the entry point's
 * prototype, a policy to bind against, and a scratch file for readers that
 * take a path. Targets must not leak, print or exit: libFuzzer runs them
 * millions of times in one process. */
#ifndef LD_FUZZ_H
#define LD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ld_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* examples/policy.json, loaded once (run from the repository root); NULL
 * when it cannot be read. */
static inline const ld_policy *fuzz_policy(void)
{
    static ld_policy *p;
    static int tried;
    if (!tried) {
        tried = 1;
        FILE *f = fopen("examples/policy.json", "rb");
        if (f != NULL) {
            static char buf[1 << 16];
            size_t n = fread(buf, 1, sizeof buf, f);
            fclose(f);
            if (ld_policy_parse(buf, n, "policy.json", &p, NULL) != LD_OK)
                p = NULL;
        }
    }
    return p;
}

/* Write data to a scratch file (one per process, rewritten per input);
 * its path, or NULL. */
static inline const char *fuzz_file(const uint8_t *data, size_t size,
                                    const char *suffix)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ladder-fuzz-%ld%s", (long)getpid(),
             suffix);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return NULL;
    int bad = size > 0 && fwrite(data, 1, size, f) != size;
    if (fclose(f) != 0 || bad)
        return NULL;
    return path;
}

#endif
