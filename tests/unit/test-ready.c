/* SPDX-License-Identifier: Apache-2.0 */
#include "ready.h"
#include "test.h"

static void test_ready_url(void)
{
        char *u = NULL;
        Error err = { "" };
        CHECK(ready_url_from_listen("0.0.0.0:8100", &u, &err) == 0);
        CHECK_STREQ(u, "http://127.0.0.1:8100/status/ready");
        free(u);
        CHECK(ready_url_from_listen("10.0.0.5:8100 ssl, 0.0.0.0:9100", &u, &err) == 0);
        CHECK_STREQ(u, "https://10.0.0.5:8100/status/ready");
        free(u);
        CHECK(ready_url_from_listen("[::]:8100", &u, &err) == 0);
        CHECK_STREQ(u, "http://[::1]:8100/status/ready");
        free(u);
        CHECK(ready_url_from_listen("off", &u, &err) < 0);
        CHECK_CONTAINS(err.msg, "status_listen");
}

/* Certificates are skipped only for https to loopback (our own Kong). */
static void test_own_loopback_tls(void)
{
        const char *skip[] = { "https://127.0.0.1:8100/status/ready", "https://127.3.4.5:8100/status/ready",
                               "https://[::1]:8100/status/ready" };
        for (size_t i = 0; i < ELEMENTSOF(skip); i++)
                CHECK(ready_url_is_own_loopback_tls(skip[i]));
        const char *verify[] = {
                "http://127.0.0.1:8100/status/ready",   "https://10.0.0.5:8100/status/ready",
                "https://localhost:8100/status/ready",  "https://[::2]:8100/status/ready",
                "https://127.0.0.1.example.com:8100/x", "https://128.0.0.1:8100/x",
                "https://[::ffff:127.0.0.1]:8100/x"
        };
        for (size_t i = 0; i < ELEMENTSOF(verify); i++)
                CHECK(!ready_url_is_own_loopback_tls(verify[i]));
        char *u = NULL;
        Error err = { "" };
        CHECK(ready_url_from_listen("0.0.0.0:8100 ssl", &u, &err) == 0);
        CHECK(ready_url_is_own_loopback_tls(u));
        free(u);
}

int main(void)
{
        RUN(test_ready_url);
        RUN(test_own_loopback_tls);
        return TEST_EXIT();
}
