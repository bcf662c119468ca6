/* sim_csv.h - a streaming CSV reader (RFC 4180) for the simulator's data
 * files: traces, measured latencies, empirical distributions.
 *
 * Comma separator; fields may be double-quoted, with "" for a quote and
 * embedded commas, CR and LF kept verbatim. Records end with LF, CRLF or a
 * lone CR; the last record may lack its line end. A UTF-8 byte order mark at
 * the start of the file is skipped, and so are completely blank lines (a
 * record holding one empty field is written `""`). A quote inside an unquoted
 * field is kept literally; anything but a comma or a line end after a closing
 * quote is an error, and so is a NUL byte.
 *
 * Caps: a field or a record (its decoded field bytes plus the separators)
 * longer than SIM_CSV_MAX_FIELD / SIM_CSV_MAX_RECORD bytes is an error
 * naming the line; nothing is ever truncated silently.
 *
 * Errors are "file:line: what" in the ld_error. After an error the reader
 * stays failed: later calls to sim_csv_next return LD_ESTATE.
 */
#ifndef SIM_CSV_H
#define SIM_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ld.h"

#define SIM_CSV_MAX_FIELD ((size_t)1 << 20)
#define SIM_CSV_MAX_RECORD ((size_t)1 << 20)

typedef struct sim_csv sim_csv;

/* Open path for reading. On failure *out is NULL, the error names the path
 * and the system's reason, and the result is LD_EINVAL (LD_ENOMEM when an
 * allocation failed). */
int sim_csv_open(const char *path, sim_csv **out, ld_error *err);

/* Read from a stream the caller opened and keeps owning: sim_csv_close does
 * not close it. name is copied and used in error messages. */
int sim_csv_open_stream(FILE *f, const char *name, sim_csv **out,
                        ld_error *err);

/* Close the reader (and the file sim_csv_open opened). NULL is fine. */
void sim_csv_close(sim_csv *c);

/* Read the next record. Returns 1 with *fields pointing at *nfields
 * NUL-terminated strings (at least one), valid until the next call on c;
 * 0 at end of file; negative on error: LD_EINVAL (malformed input or a read
 * error), LD_ELIMIT (a cap), LD_ENOMEM, LD_ESTATE (an earlier call failed). */
int sim_csv_next(sim_csv *c, const char *const **fields, size_t *nfields,
                 ld_error *err);

/* Read the next record as the header row and keep a copy of it for
 * sim_csv_header_index. LD_EINVAL if the file has no record left; other
 * failures as sim_csv_next. */
int sim_csv_read_header(sim_csv *c, ld_error *err);

/* 0-based index of the first header field equal to name; LD_ENOENT if there
 * is none, LD_ESTATE if no header was read. */
int sim_csv_header_index(const sim_csv *c, const char *name);

/* Number of fields in the header row; 0 if no header was read. */
size_t sim_csv_header_count(const sim_csv *c);

/* 1-based line on which the record last returned by sim_csv_next started
 * (a record with embedded line breaks spans several lines); 0 before the
 * first record. */
long sim_csv_line(const sim_csv *c);

/* The name given to sim_csv_open or sim_csv_open_stream. */
const char *sim_csv_name(const sim_csv *c);

/* Parse a whole field as a finite double (strtod syntax, "C" locale; no
 * surrounding spaces, no "inf"/"nan"). 0, or LD_EINVAL with *out untouched. */
int sim_csv_parse_double(const char *s, double *out);

/* Parse a whole field as a base-10 int64 (optional sign, no spaces). 0, or
 * LD_EINVAL (not a number, or out of range) with *out untouched. */
int sim_csv_parse_int64(const char *s, int64_t *out);

#endif
