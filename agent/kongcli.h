/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Short, quiet runs of Kong's CLI whose output is the answer: `kong
 * version` and the fleet's periodic `kong migrations list`, run as every
 * `kong` child is (kong_run_quiet(), kong.c): nothing is logged, the output
 * comes back with the password cut out of each line. Kong versions as Kong
 * prints them, compared. */

#include "kong.h"

/* At most this much output is kept (whole lines; the rest is read and
 * dropped). */
#define KONGCLI_OUTPUT_MAX KONG_CAPTURE_MAX

/* kong_run_quiet() with a deadline 'timeout' from now: past it the group
 * gets SIGTERM, SIGKILL 5 s later, and -ETIME is returned. 'db' NULL: no
 * password in Kong's environment. A slow wait (retry_waiting() every
 * second). */
int kongcli_run(const char *kong_bin, const char *const *args, const DbParams *db, usec_t timeout,
                int *ret_status, char **ret_output, Error *err);

/* `kong version`: "3.9.1" (Kong prints meta._VERSION; "Kong: 3.9.1" from
 * `-a` and "Kong 3.9.1" are read too). */
int kongcli_version(const char *kong_bin, usec_t timeout, char **ret_version, Error *err);

/* The version in one line of `kong version` output, or NULL. */
char *kong_version_parse(const char *output);

/* Compares dotted numeric versions ("3.9.1" < "3.10.0"; Enterprise's
 * "3.4.3.12" > "3.4.3"; a missing component counts as 0; a suffix after
 * the numbers ("-rc.1") is ignored). <0, 0, >0. */
int kong_version_compare(const char *a, const char *b);

/* The pending migrations `kong migrations list` printed ("core:
 * 003_x, 004_y; acl: 005_z"), or NULL. */
char *kong_list_pending(const char *output);
