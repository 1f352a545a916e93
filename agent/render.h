/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* kong.conf (no secrets) and the env file for kong.service's
 * EnvironmentFile= (secrets only), as bytes; writing is fileio's job. */

#include "db.h"

/* Appends 'value' as Kong's conf_loader will read it back exactly: '#' is
 * escaped as '\#'. Refuses what a kong.conf line cannot carry. */
int kong_conf_escape(const char *value, Buf *out);

/* Appends 'value' double-quoted so that systemd's EnvironmentFile= parser
 * yields exactly these bytes (it unescapes \" \\ \` \$ inside "…"). */
int env_file_quote(const char *value, Buf *out);

int render_kong_conf(const Config *c, const DbParams *db, char *const *vpc_cidrs, Buf *ret, Error *err);

/* 'redact': the password is written as <redacted> (for `render`). */
int render_env_file(const DbParams *db, bool redact, Buf *ret, Error *err);
