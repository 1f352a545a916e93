/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper for test_lock_liveness.py: two watched `kong` runs, one
 * after the other, on one lock connection, as boot_migrations() does
 * (`list`, then `bootstrap` or `up`, then `list`). The first program's end
 * may meet a liveness query in flight; the second run must still find the
 * connection ready for its own watch.
 *
 *   kong-watch-runs FIRST SECOND
 *
 * Connects with KWR_HOST, KWR_PORT, KWR_DBNAME, KWR_USER and KWR_PASSWORD
 * (never argv). Prints one line per run; exits 0 when both ran to their
 * end with exit status 0 and the connection then takes a statement, 1
 * otherwise (the error on stderr). */
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "kong.h"

static int run(const char *prog, PGconn *conn, const char *name)
{
        const char *const args[] = { NULL };
        KongWatch watch = { .lock_conn = conn };
        int status = -1;
        Error err;

        int r = kong_run(prog, args, NULL, &watch, &status, &err);
        if (r < 0) {
                fprintf(stderr, "%s run: %s\n", name, err.msg);
                return 1;
        }
        printf("%s run: exit status %d\n", name, status);
        return status == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
        DbParams p = {
                .host = getenv("KWR_HOST"),
                .port = getenv("KWR_PORT"),
                .dbname = getenv("KWR_DBNAME"),
                .user = getenv("KWR_USER"),
                .password = getenv("KWR_PASSWORD"),
                .sslmode = (char *)"disable",
        };
        PGconn *conn = NULL;
        Error err;

        if (argc != 3 || !p.host || !p.port || !p.dbname || !p.user || !p.password) {
                fprintf(stderr,
                        "usage: KWR_HOST=… KWR_PORT=… KWR_DBNAME=… KWR_USER=… KWR_PASSWORD=… %s FIRST "
                        "SECOND\n",
                        argv[0]);
                return 2;
        }
        if (db_wait(&p, 10 * USEC_PER_SEC, &conn, NULL, &err) < 0) {
                fprintf(stderr, "connect: %s\n", err.msg);
                return 2;
        }
        int r = run(argv[1], conn, "first");
        if (r == 0)
                r = run(argv[2], conn, "second");
        /* and the statement after them (the unlock) */
        PGresult *res = NULL;
        if (r == 0 && db_query(conn, "SELECT 1", 0, NULL, 5 * USEC_PER_SEC, &res, NULL, &err) < 0) {
                fprintf(stderr, "a statement after both runs: %s\n", err.msg);
                r = 1;
        }
        PQclear(res);
        PQfinish(conn);
        return r;
}
