/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Gzip (RFC 1952) as cloud-init reads it (cloudinit/util.py decomp_gzip,
 * Python's gzip module): one or more members back to back, each with its
 * CRC-32 and length checked. Inflating stops at a cap, so a small input
 * that would inflate to gigabytes (a decompression bomb) is refused
 * without ever being held in memory.
 */

#include "util.h"

/* The two magic bytes every gzip member starts with (RFC 1952, 2.3.1). */
bool gzip_is_compressed(const void *data, size_t len);

/* Inflates 'data' into *ret (replaced; NUL-terminated beyond ret->len).
 * 'what' names the input in errors ("user-data"). Negative with err:
 * -EFBIG when the inflated size would pass 'max' (the message names the
 * cap), -EBADMSG when the data is not gzip, corrupt, truncated, or has
 * bytes after the last member. *ret is untouched on failure. */
int gzip_inflate(const void *data, size_t len, size_t max, const char *what, Buf *ret, Error *err);
