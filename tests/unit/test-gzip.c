/* SPDX-License-Identifier: Apache-2.0 */
#include "gzip-compress.h"
#include "gzip.h"
#include "test.h"

static void test_round_trip(void)
{
        const char text[] = "#kong-bootstrap\nsecret_id = prod/kong\n";
        size_t n;
        unsigned char *gz = test_gzip(text, strlen(text), &n);
        Buf out = { 0 };
        Error err = { "" };

        CHECK(gzip_is_compressed(gz, n));
        CHECK(!gzip_is_compressed(text, strlen(text)));
        CHECK(!gzip_is_compressed(gz, 1));
        CHECK(gzip_inflate(gz, n, 1024, "user-data", &out, &err) == 0);
        CHECK(out.len == strlen(text));
        CHECK_STREQ(out.data, text);
        buf_done(&out);

        /* Empty content inflates to an empty, NUL-terminated buffer. */
        free(gz);
        gz = test_gzip("", 0, &n);
        CHECK(gzip_inflate(gz, n, 1024, "user-data", &out, &err) == 0);
        CHECK(out.len == 0 && out.data && out.data[0] == '\0');
        buf_done(&out);
        free(gz);
}

/* gzip(1) and Python's gzip module read members back to back as one. */
static void test_members(void)
{
        unsigned char *gz = NULL;
        size_t n = 0;
        Buf out = { 0 };
        Error err = { "" };

        test_gzip_append("#kong-bootstrap\n", 16, &gz, &n);
        test_gzip_append("secret_id = a\n", 14, &gz, &n);
        CHECK(gzip_inflate(gz, n, 1024, "user-data", &out, &err) == 0);
        CHECK_STREQ(out.data, "#kong-bootstrap\nsecret_id = a\n");
        buf_done(&out);

        /* Zero padding after a member is skipped, as Python's gzip module
         * (cloud-init) skips it: before another member, and at the end. */
        unsigned char *padded = malloc(n + 8);
        CHECK(padded != NULL);
        memcpy(padded, gz, n);
        memset(padded + n, 0, 8);
        size_t pn = n + 8;
        test_gzip_append("x = 1\n", 6, &padded, &pn);
        padded = realloc(padded, pn + 5);
        CHECK(padded != NULL);
        memset(padded + pn, 0, 5);
        CHECK(gzip_inflate(padded, pn + 5, 1024, "user-data", &out, &err) == 0);
        CHECK_STREQ(out.data, "#kong-bootstrap\nsecret_id = a\nx = 1\n");
        buf_done(&out);
        free(padded);

        /* Anything else after the last member (or its padding) is refused. */
        gz = realloc(gz, n + 5);
        memcpy(gz + n, "\0\0abc", 5);
        CHECK(gzip_inflate(gz, n + 5, 1024, "user-data", &out, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "3 byte(s) that are not gzip after gzip member 2");
        CHECK(out.data == NULL);
        free(gz);
}

/* The cap holds exactly: max bytes inflate, one more is refused, with the
 * cap in the message, before more than a chunk beyond it is held. */
static void test_cap(void)
{
        size_t big = 4 * 1024 * 1024, n;
        char *zeros = calloc(1, big);
        unsigned char *gz = test_gzip(zeros, big, &n);
        Buf out = { 0 };
        Error err = { "" };

        CHECK(n < 8 * 1024); /* a bomb: ~4 KiB claim 4 MiB */
        CHECK(gzip_inflate(gz, n, big, "user-data", &out, &err) == 0);
        CHECK(out.len == big);
        buf_done(&out);
        CHECK(gzip_inflate(gz, n, big - 1, "user-data", &out, &err) == -EFBIG);
        CHECK_CONTAINS(err.msg, "user-data: gzip data inflates to more than 4194303 bytes (the cap)");
        CHECK_CONTAINS(err.msg, "decompression bomb");
        CHECK(out.data == NULL);
        free(gz);
        free(zeros);
}

static void test_broken(void)
{
        const char text[] = "#kong-bootstrap\nsecret_id = prod/kong\npg_host = db.internal\n";
        size_t n;
        unsigned char *gz = test_gzip(text, strlen(text), &n);
        Buf out = { 0 };
        Error err = { "" };

        /* Cut anywhere after the magic: truncated, never a partial result. */
        for (size_t cut = 2; cut < n; cut++) {
                CHECK(gzip_inflate(gz, cut, 1024, "user-data", &out, &err) == -EBADMSG);
                CHECK(out.data == NULL);
        }
        CHECK(gzip_inflate(gz, n - 1, 1024, "user-data", &out, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "user-data: the gzip data is truncated (it ends inside member 1)");

        /* A flipped bit in the CRC-32 trailer, in the deflate data, in the
         * header's method byte. */
        const size_t where[] = { n - 6, 12, 2 };
        for (size_t i = 0; i < ELEMENTSOF(where); i++) {
                gz[where[i]] ^= 0x10;
                CHECK(gzip_inflate(gz, n, 1024, "user-data", &out, &err) == -EBADMSG);
                CHECK_CONTAINS(err.msg, "user-data: the gzip data is corrupt (member 1: ");
                CHECK(out.data == NULL);
                gz[where[i]] ^= 0x10;
        }
        CHECK(gzip_inflate(gz, n, 1024, "user-data", &out, &err) == 0);
        buf_done(&out);

        CHECK(gzip_inflate("plain", 5, 1024, "user-data", &out, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "not gzip");
        free(gz);
}

int main(void)
{
        RUN(test_round_trip);
        RUN(test_members);
        RUN(test_cap);
        RUN(test_broken);
        return TEST_EXIT();
}
