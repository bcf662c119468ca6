/* fuzz_trace.c - a scenario's trace replay (CSV, then JSONL, with the
 * columns the library uses) on arbitrary file contents. */
#include "fuzz.h"

#include "sim_scenario.h"

static void replay(const char *path, const char *format)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"duration_s\": 600, \"traffic\": {\"arrivals\": {\"process\":"
             " \"trace\", \"file\": \"%s\", \"format\": \"%s\","
             " \"skip_bad_rows\": true}}, \"providers\": {"
             "\"gpt-4.1\": {\"ttft_ms\": 400, \"tokens_per_s\": 80},"
             "\"claude-sonnet\": {\"ttft_ms\": 600, \"tokens_per_s\": 60},"
             "\"llama-70b-fast\": {\"ttft_ms\": 200, \"tokens_per_s\": 180},"
             "\"gpt-4.1-mini\": {\"ttft_ms\": 300, \"tokens_per_s\": 110}}}",
             path, format);
    const ld_policy *p = fuzz_policy();
    sim_scenario *sc = NULL;
    ld_error err;
    if (p == NULL ||
        sim_scenario_parse(text, strlen(text), "f.json", "", &sc, &err) != LD_OK)
        return;
    sim_trace *t = NULL;
    if (sim_scenario_bind(sc, p, &err) == LD_OK &&
        sim_trace_open(sc, p, &t, &err) == LD_OK) {
        sim_trace_row row;
        for (int i = 0; i < 100000 && sim_trace_next(t, &row, &err) == 1; i++)
            ;
        sim_trace_close(t);
    }
    sim_scenario_free(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".trace");
    if (path == NULL)
        return 0;
    replay(path, "csv");
    replay(path, "jsonl");
    unlink(path);
    return 0;
}
