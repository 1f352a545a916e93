/* SPDX-License-Identifier: Apache-2.0 */
#include "db.h"
#include "test.h"

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

int main(void)
{
        RUN(test_db_classify);
        RUN(test_lock_name);
        return TEST_EXIT();
}
