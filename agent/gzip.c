/* SPDX-License-Identifier: Apache-2.0 */
#include "gzip.h"

#include <limits.h>
/* next_in is const: zlib never writes to its input. */
#define ZLIB_CONST
#include <zlib.h>

#define CHUNK 4096

bool gzip_is_compressed(const void *data, size_t len)
{
        const unsigned char *p = data;
        return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* inflateEnd() on a zeroed stream (inflateInit2() not reached) is a
 * harmless Z_STREAM_ERROR. */
static void inflate_endp(z_stream *z)
{
        (void)inflateEnd(z);
}

int gzip_inflate(const void *data, size_t len, size_t max, const char *what, Buf *ret, Error *err)
{
        _cleanup_(inflate_endp) z_stream z = { 0 };
        _cleanup_buf_ Buf out = { 0 };
        unsigned members = 0;

        if (!gzip_is_compressed(data, len))
                return error_set(err, -EBADMSG, "%s is not gzip data", what);
        /* 16 + MAX_WBITS: a gzip header and trailer, not zlib's. */
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return error_set(err, -ENOMEM, "%s: cannot set up zlib's inflate", what);
        if (len > UINT_MAX)
                return error_set(err, -EFBIG, "%s: %zu bytes of gzip data is too much", what, len);
        z.next_in = data;
        z.avail_in = (uInt)len;

        for (;;) {
                unsigned char chunk[CHUNK];
                z.next_out = chunk;
                z.avail_out = sizeof(chunk);
                int zr = inflate(&z, Z_NO_FLUSH);
                size_t got = sizeof(chunk) - z.avail_out;
                if (got > max - out.len)
                        return error_set(err, -EFBIG,
                                         "%s: gzip data inflates to more than %zu bytes (the cap); refused "
                                         "as a possible decompression bomb",
                                         what, max);
                buf_append(&out, chunk, got);
                if (zr == Z_STREAM_END) {
                        members++;
                        /* Another member may follow, as gzip(1) and
                         * Python's gzip module read it; nothing else may. */
                        if (z.avail_in == 0)
                                break;
                        if (!gzip_is_compressed(z.next_in, z.avail_in))
                                return error_set(err, -EBADMSG,
                                                 "%s: %u byte(s) that are not gzip after gzip member %u",
                                                 what, z.avail_in, members);
                        if (inflateReset(&z) != Z_OK)
                                return error_set(err, -EBADMSG, "%s: cannot restart zlib's inflate", what);
                        continue;
                }
                if (zr == Z_OK)
                        continue;
                if (zr == Z_BUF_ERROR && z.avail_in == 0)
                        return error_set(err, -EBADMSG,
                                         "%s: the gzip data is truncated (it ends inside member %u)", what,
                                         members + 1);
                if (zr == Z_MEM_ERROR)
                        return error_set(err, -ENOMEM, "%s: zlib is out of memory", what);
                return error_set(err, -EBADMSG, "%s: the gzip data is corrupt (member %u: %s)", what,
                                 members + 1, z.msg ? z.msg : "zlib cannot inflate it");
        }
        buf_append(&out, "", 0);
        buf_done(ret);
        *ret = out;
        out = (Buf){ 0 };
        return 0;
}
