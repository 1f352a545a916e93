/* SPDX-License-Identifier: Apache-2.0 */
#include "kongcli.h"
#include "retry.h"
#include "test.h"

static void test_version_parse(void)
{
        struct {
                const char *out, *want;
        } cases[] = {
                { "3.9.1\n", "3.9.1" },                         /* kong version: meta._VERSION */
                { "Kong: 3.10.0\nngx_lua: 10026\n", "3.10.0" }, /* kong version -a */
                { "Kong 3.4.3.12\n", "3.4.3.12" },              /* Enterprise, with a prefix */
                { "2026/01/01 [warn] something\n3.9.1-rc.1\n", "3.9.1-rc.1" },
                { "", NULL },
                { "Error: no version\n", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *v = kong_version_parse(cases[i].out);
                if (cases[i].want)
                        CHECK_STREQ(v, cases[i].want);
                else
                        CHECK(v == NULL);
                free(v);
        }
}

static void test_version_compare(void)
{
        CHECK(kong_version_compare("3.9.1", "3.9.1") == 0);
        CHECK(kong_version_compare("3.9.1", "3.10.0") < 0);
        CHECK(kong_version_compare("3.10.0", "3.9.1") > 0);
        CHECK(kong_version_compare("3.4.3.12", "3.4.3") > 0);
        CHECK(kong_version_compare("3.4", "3.4.0") == 0);
        CHECK(kong_version_compare("3.9.1-rc.1", "3.9.1") == 0);
        CHECK(kong_version_compare("2.8.4", "3.0.0") < 0);
}

static void test_list_pending(void)
{
        const char *out =
                "Executed migrations:\ncore: 000_base, 001_14_to_15\n\n"
                "Pending migrations:\ncore: 003_380_to_390\nacl: 004_x\n\n"
                "New migrations available:\ncore: 005_y\n\nRun 'kong migrations finish' when ready\n";
        char *p = kong_list_pending(out);
        CHECK_STREQ(p, "core: 003_380_to_390; acl: 004_x");
        free(p);
        CHECK(kong_list_pending("Executed migrations:\ncore: 000_base\n\nDatabase is up-to-date\n") == NULL);
}

static unsigned keepalives;
static void count_keepalive(void *userdata)
{
        keepalives++;
}

/* A long `kong migrations finish` run from the daemon's loop must feed the
 * watchdog: the wait calls the keepalive hook every second. */
static void test_run_feeds_keepalive(void)
{
        const char *args[] = { "-c", "sleep 2.5; echo done", NULL };
        _cleanup_free_ char *out = NULL;
        Error err;
        int status = -1;

        retry_set_keepalive(count_keepalive, NULL);
        CHECK(kongcli_run("/bin/sh", args, NULL, 20 * USEC_PER_SEC, &status, &out, &err) >= 0);
        retry_set_keepalive(NULL, NULL);
        CHECK(status == 0);
        CHECK_CONTAINS(out, "done");
        CHECK(keepalives >= 2);
}

int main(void)
{
        RUN(test_version_parse);
        RUN(test_version_compare);
        RUN(test_list_pending);
        RUN(test_run_feeds_keepalive);
        return TEST_EXIT();
}
