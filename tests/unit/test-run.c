/* SPDX-License-Identifier: Apache-2.0 */
#include "db.h"
#include "http.h"
#include "kong.h"
#include "ready.h"
#include "run.h"
#include "test.h"

static void test_exit_status_per_stage(void)
{
        CHECK(exit_status_for_stage(STAGE_CONFIG) == 10);
        CHECK(exit_status_for_stage(STAGE_IMDS) == 11);
        CHECK(exit_status_for_stage(STAGE_SECRETS) == 12);
        CHECK(exit_status_for_stage(STAGE_DATABASE) == 13);
        CHECK(exit_status_for_stage(STAGE_MIGRATIONS) == 14);
        CHECK(exit_status_for_stage(STAGE_RENDER) == 15);
        CHECK(exit_status_for_stage(STAGE_START) == 16);
        CHECK(exit_status_for_stage(STAGE_READY) == 17);
        CHECK(exit_status_for_stage(STAGE_LIFECYCLE) == 18);
        /* All distinct. */
        for (int a = STAGE_CONFIG; a <= STAGE_READY; a++)
                for (int b = a + 1; b <= STAGE_READY; b++)
                        CHECK(exit_status_for_stage((Stage)a) != exit_status_for_stage((Stage)b));
}

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
        CHECK(strv_contains(env, "KONG_DATABASE=postgres"));
        CHECK(strv_contains(env, "KONG_PG_HOST=h"));
        CHECK(strv_contains(env, "KONG_PG_PASSWORD=p w#"));
        CHECK(strv_contains(env, "KONG_PG_SSL=on"));
        CHECK(strv_contains(env, "KONG_PG_SSL_VERIFY=on"));
        CHECK(strv_contains(env, "KONG_LUA_SSL_TRUSTED_CERTIFICATE=/ca.pem"));
        STRV_FOREACH (e, env) {
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

static void test_db_classify(void)
{
        CHECK(db_classify_error("connection to server at \"h\" failed: Connection refused") ==
              DB_UNREACHABLE);
        CHECK(db_classify_error("FATAL:  the database system is starting up") == DB_UNREACHABLE);
        CHECK(db_classify_error("FATAL:  password authentication failed for user \"kong\"") == DB_AUTH);
        CHECK(db_classify_error("FATAL:  database \"kong\" does not exist") == DB_PERMANENT);
        CHECK(db_classify_error("FATAL:  no pg_hba.conf entry for host") == DB_PERMANENT);
}

static void test_lock_name(void)
{
        DbParams a = { .dbname = "kong" }, b = { .dbname = "kong", .schema = "tenant2" };
        char *na = db_migration_lock_name(&a), *nb = db_migration_lock_name(&b);
        CHECK_STREQ(na, "kong-bootstrap/migrations/kong/public");
        CHECK_STREQ(nb, "kong-bootstrap/migrations/kong/tenant2");
        free(na);
        free(nb);
}

static void test_backoff_bounds(void)
{
        Backoff b;
        backoff_init(&b, 60 * USEC_PER_SEC, 100 * USEC_PER_MSEC, 2 * USEC_PER_SEC);
        for (unsigned attempt = 0; attempt < 12; attempt++) {
                b.attempt = attempt;
                usec_t ceiling = 100 * USEC_PER_MSEC << (attempt < 5 ? attempt : 5);
                if (ceiling > 2 * USEC_PER_SEC)
                        ceiling = 2 * USEC_PER_SEC;
                for (int i = 0; i < 200; i++) {
                        usec_t d = backoff_delay(&b);
                        CHECK(d >= 1 && d <= ceiling);
                }
        }
        /* A deadline in the past: no sleep, no more attempts. */
        backoff_init(&b, 0, 100 * USEC_PER_MSEC, 2 * USEC_PER_SEC);
        CHECK(!backoff_wait(&b));
        CHECK(http_status_is_retryable(503) && http_status_is_retryable(429) &&
              !http_status_is_retryable(403) && !http_status_is_retryable(404));
}

/* A random source that always answers the top of its range: the delay is
 * then exactly the ceiling, which makes the schedule checkable. */
static uint64_t top_of_range(uint64_t n)
{
        return n - 1;
}

static uint64_t bottom_of_range(uint64_t n)
{
        return 0;
}

static void test_backoff_schedule_deterministic(void)
{
        Backoff b;
        backoff_init(&b, 60 * USEC_PER_SEC, 100 * USEC_PER_MSEC, 1 * USEC_PER_SEC);
        b.random = top_of_range;
        const usec_t expected[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                b.attempt = (unsigned)i;
                CHECK(backoff_delay(&b) == expected[i] * USEC_PER_MSEC);
        }
        b.random = bottom_of_range;
        b.attempt = 3;
        CHECK(backoff_delay(&b) == 1); /* full jitter: may retry at once */
}

int main(void)
{
        RUN(test_backoff_schedule_deterministic);
        RUN(test_exit_status_per_stage);
        RUN(test_migrations_decide);
        RUN(test_kong_child_environment);
        RUN(test_ready_url);
        RUN(test_db_classify);
        RUN(test_lock_name);
        RUN(test_backoff_bounds);
        return TEST_EXIT();
}
