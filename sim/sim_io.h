/* sim_io.h - file reading shared by the simulator and the command line. */
#ifndef SIM_IO_H
#define SIM_IO_H

#include <stddef.h>

#include "ld.h"

/* Read the whole file at path (at most max bytes) into a NUL-terminated
 * buffer the caller frees. On failure returns a negative code (LD_EINVAL for
 * I/O errors, LD_ELIMIT when larger than max, LD_ENOMEM) and fills err with
 * the path and the reason. */
int sim_read_file(const char *path, size_t max, char **out_buf,
                  size_t *out_n, ld_error *err);

#endif
