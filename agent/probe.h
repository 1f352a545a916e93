/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What `kong-bootstrap check` asks of the stages after the database,
 * without changing anything: whether the kong binary runs, whether
 * systemd has kong_unit with the drop-in that gives Kong its password,
 * whether the CA file a verifying pg_sslmode needs is there, and what
 * `kong migrations list` says of the schema. Each fills err with a
 * sentence that names the value and its source; none logs. */

#include "db.h"

/* How long `kong version` may take in check (a hung kong_bin must not hang
 * it). */
#define PROBE_KONG_TIMEOUT (30 * USEC_PER_SEC)

/* `kong_bin version`, run as run() runs Kong (kong_run(): only stdio, the
 * restricted environment); fails unless it exits 0. */
int probe_kong_binary(const Config *c, Error *err);

/* LoadState "loaded", and kong_env_file among the unit's EnvironmentFile=
 * paths (kong-bootstrap's drop-in); *ret_detail says what was found. */
int probe_kong_unit(const Config *c, char **ret_detail, Error *err);

/* With pg_sslmode verify-ca or verify-full, pg_sslrootcert must be
 * readable; *ret_detail says what was checked. */
int probe_ca_file(const Config *c, const DbParams *db, char **ret_detail, Error *err);

/* `kong migrations list -c <this boot's kong.conf>` (a private temporary
 * copy beside the env file, removed afterwards) and what run would do
 * about the state it reports (migrations_decide()): fails when run would
 * fail (list fails, or the policy forbids what the schema needs). */
int probe_schema(const Config *c, const Buf *kong_conf, const DbParams *db, char **ret_detail, Error *err);
