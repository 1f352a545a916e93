/* SPDX-License-Identifier: Apache-2.0 */
#include "kong.h"
#include "test.h"

static void test_migrations_decide(void)
{
        CHECK(migrations_decide(0, MIGRATIONS_AUTO, false) == ACTION_NONE);
        CHECK(migrations_decide(3, MIGRATIONS_AUTO, false) == ACTION_BOOTSTRAP);
        CHECK(migrations_decide(3, MIGRATIONS_BOOTSTRAP_ONLY, false) == ACTION_BOOTSTRAP);
        CHECK(migrations_decide(3, MIGRATIONS_OFF, false) == ACTION_REFUSE);
        CHECK(migrations_decide(5, MIGRATIONS_AUTO, false) == ACTION_UP);
        CHECK(migrations_decide(5, MIGRATIONS_BOOTSTRAP_ONLY, false) == ACTION_REFUSE);
        CHECK(migrations_decide(5, MIGRATIONS_OFF, true) == ACTION_REFUSE);
        CHECK(migrations_decide(4, MIGRATIONS_AUTO, false) == ACTION_NONE);
        CHECK(migrations_decide(4, MIGRATIONS_AUTO, true) == ACTION_FINISH);
        CHECK(migrations_decide(4, MIGRATIONS_OFF, true) == ACTION_NONE);
        CHECK(migrations_decide(1, MIGRATIONS_AUTO, true) == ACTION_FAIL);
        CHECK(migrations_decide(2, MIGRATIONS_AUTO, true) == ACTION_FAIL);
        CHECK(migrations_decide(127, MIGRATIONS_AUTO, true) == ACTION_FAIL);
}

static void test_kong_child_environment(void)
{
        DbParams db = { .host = "h",
                        .port = "5432",
                        .dbname = "kong",
                        .user = "u",
                        .password = "p w#",
                        .sslmode = "verify-full",
                        .sslrootcert = "/ca.pem" };
        char *ours[] = { "PATH=/usr/bin",
                         "HOME=/root",
                         "AWS_SECRET_ACCESS_KEY=nope",
                         "KONG_BOOTSTRAP_SECRET_ID=x",
                         "NOTIFY_SOCKET=/run/x",
                         NULL };
        char **env = kong_child_environment(&db, ours);

        CHECK(strv_contains(env, "PATH=/usr/bin"));
        CHECK(strv_contains(env, "HOME=/root"));
        CHECK(strv_contains(env, "KONG_PG_PASSWORD=p w#"));
        /* Like kong.service: the password from the environment, every
         * other setting from the kong.conf given with -c. */
        STRV_FOREACH (e, env) {
                CHECK(!startswith(*e, "KONG_") || startswith(*e, "KONG_PG_PASSWORD="));
                CHECK(!startswith(*e, "AWS_"));
                CHECK(!startswith(*e, "KONG_BOOTSTRAP_"));
                CHECK(!startswith(*e, "NOTIFY_SOCKET"));
        }
        strv_free(env);

        char *no_path[] = { NULL };
        env = kong_child_environment(&db, no_path);
        CHECK(strv_contains(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        strv_free(env);
}

int main(void)
{
        RUN(test_migrations_decide);
        RUN(test_kong_child_environment);
        return TEST_EXIT();
}
