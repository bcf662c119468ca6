/* sim_csv.c - streaming RFC 4180 reader; see sim_csv.h. */
#include "sim_csv.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF ((size_t)1 << 16)

enum { ST_OK, ST_EOF, ST_FAILED };

struct sim_csv {
    FILE *f;
    int own;             /* close f in sim_csv_close */
    char *name;
    char *in;            /* read buffer */
    size_t in_len, in_pos;
    int in_end;          /* fread reported end of file or an error */
    int io_errno;        /* errno of a read error, 0 if none */
    int started;         /* the byte order mark check is done */
    int state;
    long line;           /* line of the next unread byte */
    long rec_line;       /* line where the last record started */
    char *rec;           /* field bytes, each field NUL-terminated */
    size_t rec_len, rec_cap;
    size_t *offs;        /* start of each field in rec */
    size_t nf, offs_cap;
    const char **fields; /* what sim_csv_next hands out */
    size_t fields_cap;
    char *hdr_buf;       /* copy of the header row */
    const char **hdr;
    size_t nhdr;
};

static int refill(sim_csv *c)
{
    if (c->in_end)
        return 0;
    c->in_pos = 0;
    errno = 0;
    c->in_len = fread(c->in, 1, READ_BUF, c->f);
    if (c->in_len == 0) {
        c->in_end = 1;
        if (ferror(c->f))
            c->io_errno = errno != 0 ? errno : EIO;
        return 0;
    }
    return 1;
}

static inline int getch(sim_csv *c)
{
    if (c->in_pos == c->in_len && !refill(c))
        return EOF;
    return (unsigned char)c->in[c->in_pos++];
}

static inline int peekch(sim_csv *c)
{
    if (c->in_pos == c->in_len && !refill(c))
        return EOF;
    return (unsigned char)c->in[c->in_pos];
}

static int open_common(FILE *f, int own, const char *name, sim_csv **out,
                       ld_error *err)
{
    sim_csv *c = calloc(1, sizeof *c);
    if (c == NULL)
        goto fail;
    c->f = f;
    c->own = own;
    c->line = 1;
    c->name = strdup(name != NULL ? name : "(stream)");
    c->in = malloc(READ_BUF);
    if (c->name == NULL || c->in == NULL)
        goto fail;
    *out = c;
    return 0;
fail:
    if (c != NULL) {
        c->own = 0; /* the caller closes f on failure */
        sim_csv_close(c);
    }
    ld_error_set(err, name, NULL, "out of memory opening CSV reader");
    *out = NULL;
    return LD_ENOMEM;
}

int sim_csv_open(const char *path, sim_csv **out, ld_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        ld_error_set(err, path, NULL, "cannot open: %s", strerror(errno));
        return LD_EINVAL;
    }
    int rc = open_common(f, 1, path, out, err);
    if (rc < 0)
        fclose(f);
    return rc;
}

int sim_csv_open_stream(FILE *f, const char *name, sim_csv **out,
                        ld_error *err)
{
    *out = NULL;
    if (f == NULL) {
        ld_error_set(err, name, NULL, "no stream");
        return LD_EINVAL;
    }
    return open_common(f, 0, name, out, err);
}

void sim_csv_close(sim_csv *c)
{
    if (c == NULL)
        return;
    if (c->own && c->f != NULL)
        fclose(c->f);
    free(c->name);
    free(c->in);
    free(c->rec);
    free(c->offs);
    free(c->fields);
    free(c->hdr_buf);
    free(c->hdr);
    free(c);
}

/* Make room for one more byte in rec. */
static int rec_reserve(sim_csv *c)
{
    if (c->rec_len < c->rec_cap)
        return 0;
    size_t ncap = c->rec_cap == 0 ? 256 : c->rec_cap * 2;
    if (ncap > SIM_CSV_MAX_RECORD + 1)
        ncap = SIM_CSV_MAX_RECORD + 1;
    if (ncap <= c->rec_len)
        return LD_ELIMIT;
    char *n = realloc(c->rec, ncap);
    if (n == NULL)
        return LD_ENOMEM;
    c->rec = n;
    c->rec_cap = ncap;
    return 0;
}

/* Record the start of a new field at the current end of rec. */
static int field_start(sim_csv *c)
{
    if (c->nf == c->offs_cap) {
        size_t ncap = c->offs_cap == 0 ? 16 : c->offs_cap * 2;
        size_t *n = realloc(c->offs, ncap * sizeof *n);
        if (n == NULL)
            return LD_ENOMEM;
        c->offs = n;
        c->offs_cap = ncap;
    }
    c->offs[c->nf++] = c->rec_len;
    return 0;
}

/* Append a byte (NUL ends a field) to rec, enforcing both caps. */
static int put(sim_csv *c, char ch, ld_error *err)
{
    size_t flen = c->rec_len - c->offs[c->nf - 1];
    if (ch != '\0' && flen >= SIM_CSV_MAX_FIELD) {
        ld_error_set(err, NULL, NULL,
                     "%s:%ld: field %zu is longer than %zu bytes", c->name,
                     c->rec_line, c->nf, SIM_CSV_MAX_FIELD);
        return LD_ELIMIT;
    }
    if (c->rec_len > SIM_CSV_MAX_RECORD) { /* the last NUL is no separator */
        ld_error_set(err, NULL, NULL, "%s:%ld: record is longer than %zu bytes",
                     c->name, c->rec_line, SIM_CSV_MAX_RECORD);
        return LD_ELIMIT;
    }
    int rc = rec_reserve(c);
    if (rc < 0) {
        ld_error_set(err, NULL, NULL, "%s:%ld: out of memory", c->name,
                     c->rec_line);
        return rc;
    }
    c->rec[c->rec_len++] = ch;
    return 0;
}

/* After a CR has been read: swallow the LF of a CRLF. */
static void end_cr(sim_csv *c)
{
    if (peekch(c) == '\n')
        c->in_pos++;
}

static void skip_bom(sim_csv *c)
{
    c->started = 1;
    if (peekch(c) != 0xEF)
        return;
    /* the whole read buffer is there unless the file is shorter */
    if (c->in_len - c->in_pos >= 3 &&
        (unsigned char)c->in[c->in_pos + 1] == 0xBB &&
        (unsigned char)c->in[c->in_pos + 2] == 0xBF)
        c->in_pos += 3;
}

int sim_csv_next(sim_csv *c, const char *const **fields, size_t *nfields,
                 ld_error *err)
{
    int rc = 0, ch;
    *fields = NULL;
    *nfields = 0;
    if (c->state == ST_EOF)
        return 0;
    if (c->state == ST_FAILED) {
        ld_error_set(err, NULL, NULL, "%s: reader failed earlier", c->name);
        return LD_ESTATE;
    }
    if (!c->started)
        skip_bom(c);

    /* blank lines */
    for (;;) {
        ch = peekch(c);
        if (ch == '\n') {
            c->in_pos++;
            c->line++;
        } else if (ch == '\r') {
            c->in_pos++;
            end_cr(c);
            c->line++;
        } else {
            break;
        }
    }
    if (ch == EOF)
        goto at_eof;

    c->rec_line = c->line;
    c->rec_len = 0;
    c->nf = 0;
    for (;;) { /* one field per iteration */
        if ((rc = field_start(c)) < 0) {
            ld_error_set(err, NULL, NULL, "%s:%ld: out of memory", c->name,
                         c->rec_line);
            goto fail;
        }
        ch = getch(c);
        if (ch == '"') {
            long qline = c->line;
            for (;;) {
                ch = getch(c);
                if (ch == EOF) {
                    if (c->io_errno != 0)
                        goto read_error;
                    ld_error_set(err, NULL, NULL,
                                 "%s:%ld: unterminated quoted field (reached "
                                 "end of file)",
                                 c->name, qline);
                    rc = LD_EINVAL;
                    goto fail;
                }
                if (ch == '"') {
                    if (peekch(c) != '"')
                        break;
                    c->in_pos++;
                } else if (ch == '\n') {
                    c->line++;
                } else if (ch == '\r') {
                    if (peekch(c) != '\n')
                        c->line++;
                } else if (ch == '\0') {
                    goto nul_byte;
                }
                if ((rc = put(c, (char)ch, err)) < 0)
                    goto fail;
            }
            ch = getch(c);
            if (ch != ',' && ch != '\n' && ch != '\r' && ch != EOF) {
                ld_error_set(err, NULL, NULL,
                             "%s:%ld: unexpected character after closing "
                             "quote in field %zu",
                             c->name, c->line, c->nf);
                rc = LD_EINVAL;
                goto fail;
            }
        } else {
            while (ch != ',' && ch != '\n' && ch != '\r' && ch != EOF) {
                if (ch == '\0')
                    goto nul_byte;
                if ((rc = put(c, (char)ch, err)) < 0)
                    goto fail;
                ch = getch(c);
            }
        }
        if ((rc = put(c, '\0', err)) < 0)
            goto fail;
        if (ch == ',')
            continue;
        if (ch == '\r')
            end_cr(c);
        if (ch == EOF && c->io_errno != 0)
            goto read_error;
        if (ch != EOF)
            c->line++;
        break;
    }

    if (c->fields_cap < c->nf) {
        const char **n = realloc(c->fields, c->nf * sizeof *n);
        if (n == NULL) {
            ld_error_set(err, NULL, NULL, "%s:%ld: out of memory", c->name,
                         c->rec_line);
            rc = LD_ENOMEM;
            goto fail;
        }
        c->fields = n;
        c->fields_cap = c->nf;
    }
    for (size_t i = 0; i < c->nf; i++)
        c->fields[i] = c->rec + c->offs[i];
    *fields = c->fields;
    *nfields = c->nf;
    return 1;

at_eof:
    if (c->io_errno != 0)
        goto read_error;
    c->state = ST_EOF;
    return 0;
nul_byte:
    ld_error_set(err, NULL, NULL, "%s:%ld: NUL byte in field %zu", c->name,
                 c->line, c->nf);
    rc = LD_EINVAL;
    goto fail;
read_error:
    ld_error_set(err, NULL, NULL, "%s:%ld: read error: %s", c->name, c->line,
                 strerror(c->io_errno));
    rc = LD_EINVAL;
fail:
    c->state = ST_FAILED;
    return rc;
}

int sim_csv_read_header(sim_csv *c, ld_error *err)
{
    const char *const *f;
    size_t n;
    char *buf = NULL;
    const char **hdr = NULL;
    int rc = sim_csv_next(c, &f, &n, err);
    if (rc == 0) {
        ld_error_set(err, c->name, NULL, "no header row (no records)");
        rc = LD_EINVAL;
    }
    if (rc < 0)
        goto fail;
    buf = malloc(c->rec_len);
    hdr = malloc(n * sizeof *hdr);
    if (buf == NULL || hdr == NULL) {
        ld_error_set(err, NULL, NULL, "%s:%ld: out of memory", c->name,
                     c->rec_line);
        rc = LD_ENOMEM;
        goto fail;
    }
    memcpy(buf, c->rec, c->rec_len);
    for (size_t i = 0; i < n; i++)
        hdr[i] = buf + c->offs[i];
    free(c->hdr_buf);
    free(c->hdr);
    c->hdr_buf = buf;
    c->hdr = hdr;
    c->nhdr = n;
    return 0;
fail:
    free(buf);
    free(hdr);
    return rc;
}

int sim_csv_header_index(const sim_csv *c, const char *name)
{
    if (c->hdr == NULL)
        return LD_ESTATE;
    for (size_t i = 0; i < c->nhdr; i++)
        if (strcmp(c->hdr[i], name) == 0)
            return (int)i; /* < 2^20 fields: the record cap */
    return LD_ENOENT;
}

size_t sim_csv_header_count(const sim_csv *c)
{
    return c->hdr == NULL ? 0 : c->nhdr;
}

long sim_csv_line(const sim_csv *c)
{
    return c->rec_line;
}

const char *sim_csv_name(const sim_csv *c)
{
    return c->name;
}

static int bad_edge(const char *s)
{
    size_t n = strlen(s);
    return n == 0 || strchr(" \t\n\r\f\v", s[0]) != NULL ||
           strchr(" \t\n\r\f\v", s[n - 1]) != NULL;
}

int sim_csv_parse_double(const char *s, double *out)
{
    if (bad_edge(s))
        return LD_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || !isfinite(v))
        return LD_EINVAL;
    *out = v;
    return 0;
}

int sim_csv_parse_int64(const char *s, int64_t *out)
{
    if (bad_edge(s))
        return LD_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return LD_EINVAL;
#if LLONG_MAX > INT64_MAX
    if (v < INT64_MIN || v > INT64_MAX)
        return LD_EINVAL;
#endif
    *out = (int64_t)v;
    return 0;
}
