/* fuzz_csv.c - the CSV reader (traces, empirical distributions, plots):
 * header, rows, and the number parsers on every field. */
#include "fuzz.h"

#include "sim_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fmemopen((void *)data, size, "rb");
    if (f == NULL)
        return 0;
    sim_csv *c = NULL;
    ld_error err;
    if (sim_csv_open_stream(f, "f.csv", &c, &err) == LD_OK) {
        if (sim_csv_read_header(c, &err) == LD_OK) {
            const char *const *fields;
            size_t n;
            for (int rows = 0; rows < 100000 &&
                               sim_csv_next(c, &fields, &n, &err) == 1;
                 rows++) {
                for (size_t i = 0; i < n; i++) {
                    double d;
                    int64_t v;
                    (void)sim_csv_parse_double(fields[i], &d);
                    (void)sim_csv_parse_int64(fields[i], &v);
                }
            }
        }
        sim_csv_close(c);
    }
    fclose(f);
    return 0;
}
