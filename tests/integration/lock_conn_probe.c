/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper for test_lock_liveness.py: the agent's own lock connection
 * (db_wait(), as boot_database() opens it), probed from inside.
 *
 *   lock-conn-probe runs FIRST SECOND
 *      two watched `kong` runs, one after the other, on the connection, as
 *      boot_migrations() does (`list`, then `bootstrap` or `up`, then
 *      `list`). The first program's end may meet a liveness query in
 *      flight; the second run must still find the connection ready for its
 *      own watch. Prints one line per run; exits 0 when both ran to their
 *      end with exit status 0 and the connection then takes a statement.
 *   lock-conn-probe sockopts
 *      prints the TCP settings of the connection's socket that notice a
 *      peer gone quiet (keepalives, TCP_USER_TIMEOUT), one "name value"
 *      per line.
 *
 * Connects with LCP_HOST, LCP_PORT, LCP_DBNAME, LCP_USER and LCP_PASSWORD
 * (never argv). Exits 1 on a failed check, 2 on a usage or connection
 * error (the error on stderr). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

static int sockopts(PGconn *conn)
{
        static const struct {
                const char *name;
                int level, opt;
        } opts[] = {
                { "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE },
                { "TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE },
                { "TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL },
                { "TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT },
                { "TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT },
        };
        for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
                int v = -1;
                socklen_t len = sizeof(v);
                if (getsockopt(PQsocket(conn), opts[i].level, opts[i].opt, &v, &len) < 0) {
                        perror(opts[i].name);
                        return 1;
                }
                printf("%s %d\n", opts[i].name, v);
        }
        return 0;
}

int main(int argc, char **argv)
{
        DbParams p = {
                .host = getenv("LCP_HOST"),
                .port = getenv("LCP_PORT"),
                .dbname = getenv("LCP_DBNAME"),
                .user = getenv("LCP_USER"),
                .password = getenv("LCP_PASSWORD"),
                .sslmode = (char *)"disable",
        };
        PGconn *conn = NULL;
        Error err;

        bool runs = argc == 4 && strcmp(argv[1], "runs") == 0;
        if (!(runs || (argc == 2 && strcmp(argv[1], "sockopts") == 0)) || !p.host || !p.port || !p.dbname ||
            !p.user || !p.password) {
                fprintf(stderr,
                        "usage: LCP_HOST=… LCP_PORT=… LCP_DBNAME=… LCP_USER=… LCP_PASSWORD=… %s runs FIRST "
                        "SECOND | sockopts\n",
                        argv[0]);
                return 2;
        }
        if (db_wait(&p, 10 * USEC_PER_SEC, &conn, NULL, &err) < 0) {
                fprintf(stderr, "connect: %s\n", err.msg);
                return 2;
        }
        if (!runs) {
                int r = sockopts(conn);
                PQfinish(conn);
                return r;
        }
        int r = run(argv[2], conn, "first");
        if (r == 0)
                r = run(argv[3], conn, "second");
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
