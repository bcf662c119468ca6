/* fuzz_scenario.c - the scenario loader on arbitrary bytes, then binding to
 * the example policy (relative files resolve against tests/data/traces). */
#include "fuzz.h"

#include "sim_scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_scenario *sc = NULL;
    ld_error err;
    if (sim_scenario_parse((const char *)data, size, "f.json",
                           "tests/data/traces", &sc, &err) != LD_OK)
        return 0;
    const ld_policy *p = fuzz_policy();
    if (p != NULL)
        (void)sim_scenario_bind(sc, p, &err);
    sim_scenario_free(sc);
    return 0;
}
