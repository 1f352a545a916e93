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

int main(void)
{
        RUN(test_ready_url);
        return TEST_EXIT();
}
