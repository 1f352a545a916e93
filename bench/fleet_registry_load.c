/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load for bench/fleet_registry (not a test): N simulated nodes, each with
 * a connection of its own, run per interval what a node's fleet timer runs
 * against PostgreSQL (agent/fleet.c: registry_kong_pending(),
 * registry_upsert(), and during a rollout registry_list()) through the
 * agent's own registry.c. One JSON line per interval: the time each node's
 * queries took (sum, max) and the wall time of the interval's round.
 *
 * Usage: fleet_registry_load NODES INTERVALS INTERVAL_MS
 * Connection: PGHOST, PGPORT, PGDATABASE, PGUSER and the password in
 * PGPASSWORD (the bench's own database user, never the test password).
 */
#include <stdio.h>
#include <stdlib.h>

#include "registry.h"

int main(int argc, char **argv)
{
        if (argc != 4)
                return 2;
        uint64_t nodes = 0, intervals = 0, interval_ms = 0;
        if (parse_uint64(argv[1], &nodes) < 0 || parse_uint64(argv[2], &intervals) < 0 ||
            parse_uint64(argv[3], &interval_ms) < 0 || nodes == 0)
                return 2;
        DbParams p = {
                .host = getenv("PGHOST"),
                .port = getenv("PGPORT"),
                .dbname = getenv("PGDATABASE"),
                .user = getenv("PGUSER"),
                .password = getenv("PGPASSWORD"),
                .sslmode = (char *)"disable",
        };
        PGconn **conns = xcalloc(nodes, sizeof(PGconn *));
        Error err = { "" };
        for (uint64_t i = 0; i < nodes; i++)
                if (db_wait(&p, 10 * USEC_PER_SEC, &conns[i], NULL, &err) < 0) {
                        fprintf(stderr, "connect: %s\n", err.msg);
                        return 1;
                }
        if (registry_setup(conns[0], &p, 10 * USEC_PER_SEC, &err) < 0) {
                fprintf(stderr, "setup: %s\n", err.msg);
                return 1;
        }
        for (uint64_t k = 0; k < intervals; k++) {
                usec_t round = now_usec(), sum = 0, max = 0;
                unsigned lists = 0;
                for (uint64_t i = 0; i < nodes; i++) {
                        char id[32], *pending = NULL;
                        snprintf(id, sizeof(id), "i-%017llx", (unsigned long long)i);
                        RegistryNode row = {
                                .instance_id = id,
                                .group = (char *)"kong-asg",
                                .zone = (char *)"us-east-1a",
                                .kong_version = (char *)(i % 2 ? "3.8.0" : "3.9.1"),
                                .agent_version = (char *)"bench",
                                .state = NODE_READY,
                                .schema_state = 4,
                        };
                        usec_t t = now_usec();
                        if (registry_kong_pending(conns[i], NULL, &pending, &err) < 0 ||
                            registry_upsert(conns[i], &row, &err) < 0) {
                                fprintf(stderr, "tick: %s\n", err.msg);
                                return 1;
                        }
                        if (pending) {
                                RegistryNode *l = NULL;
                                size_t n = 0;
                                if (registry_list(conns[i], &l, &n, &err) < 0) {
                                        fprintf(stderr, "list: %s\n", err.msg);
                                        return 1;
                                }
                                registry_nodes_free(l, n);
                                lists++;
                        }
                        free(pending);
                        usec_t d = now_usec() - t;
                        sum += d;
                        if (d > max)
                                max = d;
                }
                printf("{\"interval\": %llu, \"nodes\": %llu, \"lists\": %u, \"db_time_sum_ms\": %.3f, "
                       "\"db_time_max_ms\": %.3f, \"round_ms\": %.3f}\n",
                       (unsigned long long)k, (unsigned long long)nodes, lists, (double)sum / 1000.0,
                       (double)max / 1000.0, (double)(now_usec() - round) / 1000.0);
                fflush(stdout);
                usec_t spent = now_usec() - round;
                if (spent < interval_ms * USEC_PER_MSEC)
                        sleep_usec(interval_ms * USEC_PER_MSEC - spent);
        }
        for (uint64_t i = 0; i < nodes; i++)
                PQfinish(conns[i]);
        free(conns);
        return 0;
}
