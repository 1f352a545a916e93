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

/* Every member of zs's input into *out, at most 'max' bytes. */
static int inflate_members(z_stream *zs, size_t max, const char *what, Buf *out, Error *err)
{
        unsigned members = 0;
        int r = 0;

        for (;;) {
                unsigned char chunk[CHUNK];
                zs->next_out = chunk;
                zs->avail_out = sizeof(chunk);
                int zr = inflate(zs, Z_NO_FLUSH);
                size_t got = sizeof(chunk) - zs->avail_out;
                if (got > max - out->len)
                        return error_set(err, -EFBIG,
                                         "%s: gzip data inflates to more than %zu bytes (the cap); refused "
                                         "as a possible decompression bomb",
                                         what, max);
                buf_append(out, chunk, got);
                if (zr == Z_STREAM_END) {
                        members++;
                        /* Another member may follow, as gzip(1) and
                         * Python's gzip module (cloud-init's) read it, after
                         * zero bytes of padding, which both skip (Python's
                         * _GzipReader._read_eof); nothing else may. */
                        while (zs->avail_in > 0 && *zs->next_in == 0) {
                                zs->next_in++;
                                zs->avail_in--;
                        }
                        if (zs->avail_in == 0)
                                break;
                        if (!gzip_is_compressed(zs->next_in, zs->avail_in)) {
                                r = error_set(err, -EBADMSG,
                                              "%s: %u byte(s) that are not gzip after gzip member %u", what,
                                              zs->avail_in, members);
                                break;
                        }
                        if (inflateReset(zs) != Z_OK) {
                                r = error_set(err, -EBADMSG, "%s: cannot restart zlib's inflate", what);
                                break;
                        }
                        continue;
                }
                if (zr == Z_OK)
                        continue;
                if (zr == Z_BUF_ERROR && zs->avail_in == 0)
                        r = error_set(err, -EBADMSG,
                                      "%s: the gzip data is truncated (it ends inside member %u)", what,
                                      members + 1);
                else if (zr == Z_MEM_ERROR)
                        r = error_set(err, -ENOMEM, "%s: zlib is out of memory", what);
                else
                        r = error_set(err, -EBADMSG, "%s: the gzip data is corrupt (member %u: %s)", what,
                                      members + 1, zs->msg ? zs->msg : "zlib cannot inflate it");
                break;
        }
        return r;
}

int gzip_inflate(const void *data, size_t len, size_t max, const char *what, Buf *ret, Error *err)
{
        _cleanup_(inflate_endp) z_stream z = { 0 };
        Buf out = { 0 };

        if (!gzip_is_compressed(data, len))
                return error_set(err, -EBADMSG, "%s is not gzip data", what);
        if (len > UINT_MAX)
                return error_set(err, -EFBIG, "%s: %zu bytes of gzip data is too much", what, len);
        /* 16 + MAX_WBITS: a gzip header and trailer, not zlib's. */
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return error_set(err, -ENOMEM, "%s: cannot set up zlib's inflate", what);
        z.next_in = data;
        z.avail_in = (uInt)len;
        int r = inflate_members(&z, max, what, &out, err);
        if (r < 0) {
                buf_done(&out);
                return r;
        }
        buf_append(&out, "", 0);
        buf_done(ret);
        *ret = out;
        return 0;
}
