/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Gzip test inputs made with zlib's deflate, as gzip(1), Python's gzip and
 * Terraform's cloudinit_config (Go's compress/gzip) write them. */

#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

/* One gzip member of data[0..len) appended to *out (*out_len grows). */
static inline void test_gzip_append(const void *data, size_t len, unsigned char **out, size_t *out_len)
{
        z_stream z = { 0 };
        size_t bound = len + len / 100 + 1024;
        if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                abort();
        *out = realloc(*out, *out_len + bound);
        if (!*out)
                abort();
        z.next_in = (Bytef *)(uintptr_t)data;
        z.avail_in = (uInt)len;
        z.next_out = *out + *out_len;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
                abort();
        *out_len += bound - z.avail_out;
        (void)deflateEnd(&z);
}

static inline unsigned char *test_gzip(const void *data, size_t len, size_t *ret_len)
{
        unsigned char *out = NULL;
        *ret_len = 0;
        test_gzip_append(data, len, &out, ret_len);
        return out;
}
