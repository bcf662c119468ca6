/* fuzz_replay.c - the request-trace reader of `ladder replay`
 * (docs/trace-format.md) on arbitrary file contents, then the scenario it
 * builds. */
#include "fuzz.h"

#include "sim_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ld_policy *p = fuzz_policy();
    const char *path = fuzz_file(data, size, ".jsonl");
    if (p == NULL || path == NULL)
        return 0;
    sim_recorded *rec = NULL;
    ld_error err;
    sim_replay_opts o = {0, 0, true};
    if (sim_replay_load(path, p, &o, &rec, &err) == LD_OK) {
        sim_scenario *sc = NULL;
        if (sim_replay_scenario(rec, p, NULL, &sc, &err) == LD_OK)
            sim_scenario_free(sc);
        sim_replay_free(rec);
    }
    unlink(path);
    return 0;
}
