/* SPDX-License-Identifier: Apache-2.0 */
/* Gzip as user-data brings it: whatever the bytes, gzip_inflate() either
 * fails with err set and *ret untouched, or returns at most 'max' bytes,
 * NUL-terminated; and a cap one byte below what it returned is refused. */

#include "fuzz.h"
#include "gzip.h"

#define FUZZ_INFLATE_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        Buf out = { 0 };
        Error err = { { 0 } };

        int r = gzip_inflate(data, size, FUZZ_INFLATE_MAX, "fuzz", &out, &err);
        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG || r == -EFBIG);
                FUZZ_ASSERT(out.data == NULL && err.msg[0] != '\0');
                return 0;
        }
        FUZZ_ASSERT(r == 0 && out.data && out.len <= FUZZ_INFLATE_MAX && out.data[out.len] == '\0');
        if (out.len > 0) {
                Buf again = { 0 };
                FUZZ_ASSERT(gzip_inflate(data, size, out.len - 1, "fuzz", &again, &err) == -EFBIG);
                FUZZ_ASSERT(again.data == NULL);
        }
        buf_done(&out);
        return 0;
}
