/* cli.h - the `ladder` command line: one function per subcommand, and the
 * small pieces of host I/O they share. */
#ifndef LD_CLI_H
#define LD_CLI_H

#include <stddef.h>

#include "ld.h"
#include "ld_policy.h"

#define LADDER_VERSION "0.1.0"

int cmd_check(int argc, char **argv);

/* Read a whole file (at most cap bytes) into a NUL-terminated buffer the
 * caller frees. On failure returns a negative code and fills err with the
 * path and the reason. */
int cli_read_file(const char *path, size_t cap, char **out, size_t *len,
                  ld_error *err);

/* Read and parse a policy file; prints nothing. */
int cli_load_policy(const char *path, ld_policy **out, ld_error *err);

#endif
