/* SPDX-License-Identifier: Apache-2.0 */
#include <openssl/evp.h>

#include "config.h"
#include "gzip-compress.h"
#include "test.h"
#include "userdata.h"

static int extract(const char *data, char **text, char **origin, Error *err)
{
        *text = *origin = NULL;
        return userdata_extract(data, strlen(data), text, origin, err);
}

static void test_plain(void)
{
        char *text, *origin;
        Error err = { "" };

        CHECK(extract("#kong-bootstrap\nsecret_id = a\n", &text, &origin, &err) == 1);
        CHECK_STREQ(origin, "user-data");
        CHECK_CONTAINS(text, "secret_id = a");
        free(text);
        free(origin);
        CHECK(extract("#kong-bootstrap  \r\nsecret_id = a\r\n", &text, &origin, &err) == 1);
        free(text);
        free(origin);

        /* Not ours: cloud-config, scripts, a longer header word, nothing. */
        CHECK(extract("#cloud-config\npackages: [kong]\n", &text, &origin, &err) == 0);
        CHECK(extract("#!/bin/sh\necho hi\n", &text, &origin, &err) == 0);
        CHECK(extract("#kong-bootstrapper\nsecret_id = a\n", &text, &origin, &err) == 0);
        CHECK(extract("", &text, &origin, &err) == 0);
        CHECK(text == NULL && origin == NULL);
}

#define MIME_HEAD                                                 \
        "Content-Type: multipart/mixed; boundary=\"===b===\"\r\n" \
        "MIME-Version: 1.0\r\n"                                   \
        "\r\n"

static void test_mime(void)
{
        char *text, *origin;
        Error err = { "" };
        const char *mime = MIME_HEAD "--===b===\r\n"
                                     "Content-Type: text/cloud-config; charset=\"us-ascii\"\r\n"
                                     "\r\n"
                                     "#cloud-config\r\n"
                                     "--===b===\r\n"
                                     "Content-Type: text/x-kong-bootstrap; charset=\"us-ascii\"\r\n"
                                     "Content-Transfer-Encoding: 7bit\r\n"
                                     "\r\n"
                                     "secret_id = from-mime\r\n"
                                     "lifecycle_hook = launch\r\n"
                                     "--===b===--\r\n";
        CHECK(extract(mime, &text, &origin, &err) == 1);
        CHECK_STREQ(origin, "user-data MIME part 2");
        CHECK_STREQ(text, "secret_id = from-mime\r\nlifecycle_hook = launch");

        /* The text loads with sources naming the part and its line. */
        Config *c;
        config_new(&c);
        CHECK(config_load_text(c, CONFIG_LAYER_USERDATA, text, strlen(text), origin, &err) == 0);
        CHECK_STREQ(config_get(c, CONF_SECRET_ID), "from-mime");
        CHECK_STREQ(config_source(c, CONF_LIFECYCLE_HOOK), "user-data MIME part 2 line 2");
        config_free(c);
        free(text);
        free(origin);

        /* base64, as Python's email package writes it; unquoted boundary; LF only. */
        const char *b64 = "Content-Type: multipart/mixed; boundary=XYZ\n\n"
                          "--XYZ\n"
                          "Content-Type: text/x-kong-bootstrap\n"
                          "Content-Transfer-Encoding: base64\n\n"
                          "c2VjcmV0X2lkID0g\nYjY0Cg==\n"
                          "--XYZ--\n";
        CHECK(extract(b64, &text, &origin, &err) == 1);
        CHECK_STREQ(text, "secret_id = b64\n");
        free(text);
        free(origin);

        /* A single-part MIME message of our type. */
        CHECK(extract("Content-Type: text/x-kong-bootstrap\n\nsecret_id = one\n", &text, &origin, &err) ==
              1);
        CHECK_STREQ(text, "secret_id = one\n");
        free(text);
        free(origin);

        /* MIME without our part. */
        const char *other =
                MIME_HEAD "--===b===\r\nContent-Type: text/x-shellscript\r\n\r\necho\r\n--===b===--\r\n";
        CHECK(extract(other, &text, &origin, &err) == 0);
}

static void test_mime_errors(void)
{
        char *text, *origin;
        Error err = { "" };

        const char *unclosed =
                MIME_HEAD "--===b===\r\nContent-Type: text/x-kong-bootstrap\r\n\r\nsecret_id = a\r\n";
        CHECK(extract(unclosed, &text, &origin, &err) < 0);
        CHECK_CONTAINS(err.msg, "closing boundary");

        const char *two =
                MIME_HEAD "--===b===\r\nContent-Type: text/x-kong-bootstrap\r\n\r\na = 1\r\n"
                          "--===b===\r\nContent-Type: text/x-kong-bootstrap\r\n\r\nb = 2\r\n--===b===--\r\n";
        CHECK(extract(two, &text, &origin, &err) < 0);
        CHECK_CONTAINS(err.msg, "more than one");

        const char *qp =
                MIME_HEAD "--===b===\r\nContent-Type: text/x-kong-bootstrap\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n\r\na=3D1\r\n--===b===--\r\n";
        CHECK(extract(qp, &text, &origin, &err) < 0);
        CHECK_CONTAINS(err.msg, "quoted-printable");

        const char *bad64 = MIME_HEAD "--===b===\r\nContent-Type: text/x-kong-bootstrap\r\n"
                                      "Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n--===b===--\r\n";
        CHECK(extract(bad64, &text, &origin, &err) < 0);
        CHECK_CONTAINS(err.msg, "base64");

        CHECK(extract("Content-Type: multipart/mixed\n\n--x--\n", &text, &origin, &err) < 0);
        CHECK_CONTAINS(err.msg, "boundary");
        CHECK(extract("Content-Type: multipart/mixed; boundary=x\nnot a header\n\n", &text, &origin, &err) <
              0);
}

static void test_nul_is_refused(void)
{
        char *text = NULL, *origin = NULL;
        Error err = { "" };
        static const char plain[] = "#kong-bootstrap\nsecret_id = a\0\npg_host = evil\n";
        CHECK(userdata_extract(plain, sizeof(plain) - 1, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "NUL");
        CHECK(text == NULL);

        /* base64 of "secret_id = a\0x\n" */
        static const char mime[] = MIME_HEAD "--===b===\r\n"
                                             "Content-Type: text/x-kong-bootstrap\r\n"
                                             "Content-Transfer-Encoding: base64\r\n"
                                             "\r\n"
                                             "c2VjcmV0X2lkID0gYQB4Cg==\r\n"
                                             "--===b===--\r\n";
        CHECK(userdata_extract(mime, sizeof(mime) - 1, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "user-data MIME part 1");
        CHECK_CONTAINS(err.msg, "NUL");
        free(origin);
        origin = NULL;

        /* Binary user-data that is not gzip stays "not ours". */
        static const char bin[] = "\x7f"
                                  "ELF\x02\x01\x01\x00";
        CHECK(userdata_extract(bin, sizeof(bin) - 1, &text, &origin, &err) == USERDATA_NONE);
}

static int extract_gzip(const char *data, size_t len, char **text, char **origin, Error *err)
{
        size_t n;
        unsigned char *gz = test_gzip(data, len, &n);
        *text = *origin = NULL;
        int r = userdata_extract((const char *)gz, n, text, origin, err);
        free(gz);
        return r;
}

/* What Terraform's cloudinit_config writes with its defaults (gzip = true,
 * base64_encode = true; EC2 hands the decoded bytes to IMDS): a gzip of a
 * MIME multipart. */
#define TERRAFORM_MULTIPART                                          \
        "Content-Type: multipart/mixed; boundary=\"MIMEBOUNDARY\"\n" \
        "MIME-Version: 1.0\r\n"                                      \
        "\r\n"                                                       \
        "--MIMEBOUNDARY\r\n"                                         \
        "Content-Transfer-Encoding: 7bit\r\n"                        \
        "Content-Type: text/cloud-config\r\n"                        \
        "Mime-Version: 1.0\r\n"                                      \
        "\r\n"                                                       \
        "#cloud-config\npackages: [jq]\n\r\n"                        \
        "--MIMEBOUNDARY\r\n"                                         \
        "Content-Transfer-Encoding: 7bit\r\n"                        \
        "Content-Type: text/x-kong-bootstrap\r\n"                    \
        "Mime-Version: 1.0\r\n"                                      \
        "\r\n"                                                       \
        "secret_id = prod/kong/db\npg_host = db.internal\n\r\n"      \
        "--MIMEBOUNDARY--\r\n"

static void test_gzip_whole(void)
{
        char *text, *origin;
        Error err = { "" };

        const char plain[] = "#kong-bootstrap\nsecret_id = a\n";
        CHECK(extract_gzip(plain, strlen(plain), &text, &origin, &err) == USERDATA_FOUND);
        CHECK_STREQ(origin, "gzip-compressed user-data");
        CHECK_STREQ(text, plain);
        free(text);
        free(origin);

        const char tf[] = TERRAFORM_MULTIPART;
        CHECK(extract_gzip(tf, strlen(tf), &text, &origin, &err) == USERDATA_FOUND);
        CHECK_STREQ(origin, "gzip-compressed user-data MIME part 2");
        CHECK_STREQ(text, "secret_id = prod/kong/db\npg_host = db.internal\n");
        free(text);
        free(origin);

        /* Gzip of something that is not ours: nothing, as before. */
        const char cc[] = "#cloud-config\npackages: [kong]\n";
        CHECK(extract_gzip(cc, strlen(cc), &text, &origin, &err) == USERDATA_NONE);
        CHECK(text == NULL && origin == NULL);

        /* Inflated once, as cloud-init does: gzip inside gzip is binary. */
        size_t n1, n2;
        unsigned char *inner = test_gzip(plain, strlen(plain), &n1);
        unsigned char *outer = test_gzip(inner, n1, &n2);
        text = origin = NULL;
        CHECK(userdata_extract((const char *)outer, n2, &text, &origin, &err) == USERDATA_NONE);
        free(inner);
        free(outer);

        /* Our text inside gzip still may not hold a NUL. */
        static const char nul[] = "#kong-bootstrap\nsecret_id = a\0\npg_host = evil\n";
        CHECK(extract_gzip(nul, sizeof(nul) - 1, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "gzip-compressed user-data: the text holds a NUL byte");
        CHECK(text == NULL && origin == NULL);
}

static void base64_encode(const unsigned char *data, size_t len, Buf *out)
{
        char *b = calloc(1, 4 * (len / 3 + 1) + 1);
        (void)EVP_EncodeBlock((unsigned char *)b, data, (int)len);
        buf_puts(out, b);
        free(b);
}

/* A MIME part of one of cloud-init's gzip types (DECOMP_TYPES): inflated,
 * ours when it starts with "#kong-bootstrap". */
static void test_gzip_part(void)
{
        const char ours[] = "#kong-bootstrap\nsecret_id = b\n", theirs[] = "#cloud-config\n{}\n";
        size_t n;
        unsigned char *gz_ours = test_gzip(ours, strlen(ours), &n);
        Buf b64_ours = { 0 }, b64_theirs = { 0 }, mime = { 0 };
        base64_encode(gz_ours, n, &b64_ours);
        free(gz_ours);
        unsigned char *gz_theirs = test_gzip(theirs, strlen(theirs), &n);
        base64_encode(gz_theirs, n, &b64_theirs);
        free(gz_theirs);
        char *text = NULL, *origin = NULL;
        Error err = { "" };

        buf_printf(&mime,
                   MIME_HEAD "--===b===\r\nContent-Type: application/x-gzip\r\n"
                             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
                             "--===b===\r\nContent-Type: application/gzip; name=kb.gz\r\n"
                             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--===b===--\r\n",
                   b64_theirs.data, b64_ours.data);
        CHECK(userdata_extract(mime.data, mime.len, &text, &origin, &err) == USERDATA_FOUND);
        CHECK_STREQ(origin, "user-data MIME part 2 (gzip-compressed)");
        CHECK_STREQ(text, ours);
        free(text);
        free(origin);
        text = origin = NULL;

        /* A gzip part and a text/x-kong-bootstrap part: which one? Refused. */
        buf_done(&mime);
        buf_printf(&mime,
                   MIME_HEAD "--===b===\r\nContent-Type: text/x-kong-bootstrap\r\n\r\na = 1\r\n"
                             "--===b===\r\nContent-Type: application/gzip\r\n"
                             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--===b===--\r\n",
                   b64_ours.data);
        CHECK(userdata_extract(mime.data, mime.len, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "more than one kong-bootstrap part");

        /* A corrupt gzip part is an error naming the part. */
        buf_done(&mime);
        buf_printf(&mime, MIME_HEAD "--===b===\r\nContent-Type: application/gzip\r\n"
                                    "Content-Transfer-Encoding: base64\r\n\r\nH4sIAAAAAAAAA0tMSgYAAA==\r\n"
                                    "--===b===--\r\n");
        CHECK(userdata_extract(mime.data, mime.len, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "user-data MIME part 1 (gzip-compressed): the gzip data is");
        CHECK(text == NULL && origin == NULL);
        buf_done(&mime);
        buf_done(&b64_ours);
        buf_done(&b64_theirs);
}

/* A bomb is refused naming the cap; truncated or corrupt gzip is a clear
 * error; nothing is returned either way. */
static void test_gzip_refused(void)
{
        char *text, *origin;
        Error err = { "" };
        size_t big = USERDATA_INFLATED_MAX + 1;
        char *bomb = calloc(1, big);
        memcpy(bomb, "#kong-bootstrap\n", 16);
        CHECK(extract_gzip(bomb, big, &text, &origin, &err) == -EFBIG);
        CHECK_CONTAINS(err.msg, "user-data: gzip data inflates to more than 1048576 bytes (the cap)");
        CHECK(text == NULL && origin == NULL);
        /* At the cap exactly: read (and then refused for its NULs). */
        CHECK(extract_gzip(bomb, big - 1, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "NUL");
        free(bomb);

        const char tf[] = TERRAFORM_MULTIPART;
        size_t n;
        unsigned char *gz = test_gzip(tf, strlen(tf), &n);
        text = origin = NULL;
        CHECK(userdata_extract((const char *)gz, n - 4, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "user-data: the gzip data is truncated");
        gz[n - 8] ^= 1; /* the CRC-32 */
        CHECK(userdata_extract((const char *)gz, n, &text, &origin, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "user-data: the gzip data is corrupt");
        CHECK(text == NULL && origin == NULL);
        free(gz);
}

static void test_layers_and_local_only(void)
{
        Config *c;
        Error err = { "" };
        config_new(&c);

        /* The environment was loaded before user-data, yet wins over it. */
        char *env[] = { "KONG_BOOTSTRAP_SECRET_ID=env", NULL };
        CHECK(config_load_environ(c, env, &err) == 0);
        CHECK(config_load_text(c, CONFIG_LAYER_USERDATA, "secret_id = ud\npg_host = ud\n", 28, "user-data",
                               &err) == 0);
        CHECK_STREQ(config_get(c, CONF_SECRET_ID), "env");
        CHECK_STREQ(config_get(c, CONF_PG_HOST), "ud");
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "lifecycle_hook", "ud", "user-data line 3", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_TAG, "lifecycle_hook", "tag",
                         "instance tag kong-bootstrap:lifecycle_hook", &err) == 0);
        CHECK_STREQ(config_get(c, CONF_LIFECYCLE_HOOK), "ud");
        CHECK(config_set(c, CONFIG_LAYER_CLI, "pg_host", "cli", "--set", &err) == 0);
        CHECK_STREQ(config_get(c, CONF_PG_HOST), "cli");

        const char *refused[][2] = { { "kong_bin", "/x" },
                                     { "kong_conf", "/x" },
                                     { "kong_env_file", "/x" },
                                     { "kong_unit", "x.service" },
                                     { "imds_endpoint", "http://127.0.0.1:1" },
                                     { "imds_timeout", "5" },
                                     { "kong_conf_template", "/x" },
                                     { "kong_prefix", "/x" } };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                CHECK(config_set(c, CONFIG_LAYER_TAG, refused[i][0], "/bin/sh", "instance tag x", &err) ==
                      -EPERM);
                CHECK_CONTAINS(err.msg, "can only be set in the config file");
                CHECK(config_set(c, CONFIG_LAYER_USERDATA, refused[i][0], "/bin/sh", "user-data line 2",
                                 &err) == -EPERM);
                CHECK(config_set(c, CONFIG_LAYER_FILE, refused[i][0], refused[i][1], "/etc/kb.conf:1",
                                 &err) == 0);
        }
        config_free(c);
}

int main(void)
{
        RUN(test_plain);
        RUN(test_mime);
        RUN(test_mime_errors);
        RUN(test_nul_is_refused);
        RUN(test_gzip_whole);
        RUN(test_gzip_part);
        RUN(test_gzip_refused);
        RUN(test_layers_and_local_only);
        return TEST_EXIT();
}
