/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one way this agent writes a file: a temp file in the same directory
 * created with its final mode (O_EXCL), written whole, fsynced, renamed
 * over the target, directory fsynced. An identical file is left alone. */

#include <sys/types.h>

#include "util.h"

/* *ret_changed tells whether the file was (re)written. The parent
 * directory is created with 'dir_mode' if missing (one level). */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode, mode_t dir_mode,
                      bool *ret_changed, Error *err);

/* Reads a whole file of at most 'max' bytes into a secret-marked buffer. */
int read_file_limited(const char *path, size_t max, Buf *ret, Error *err);

/* Removes the temp files write_file_atomic() leaves beside 'path' when
 * killed between creating and renaming one (the env file's holds the
 * password); called at start, before anything writes 'path'. */
int remove_stale_temp_files(const char *path, unsigned *ret_removed, Error *err);
