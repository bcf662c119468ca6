/* fuzz_policy.c - the policy loader on arbitrary bytes (not NUL-terminated:
 * libFuzzer's buffer ends exactly at size). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ld_policy *p = NULL;
    ld_error err;
    if (ld_policy_parse((const char *)data, size, "f.json", &p, &err) == LD_OK)
        ld_policy_free(p);
    return 0;
}
