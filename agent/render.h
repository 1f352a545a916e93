/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * kong.conf (no secrets) and the env file for kong.service's
 * EnvironmentFile= (secrets only), as bytes; writing is fileio's job.
 *
 * kong.conf lines, later wins: what kong-bootstrap computes (database
 * settings from the secret, listeners, trusted_ips from the VPC), then the
 * operator's template (kong_conf_template), then kong.<setting> keys.
 */

#include "db.h"

/* Why Kong would not read 'value' back exactly, or NULL if it would:
 * control characters, leading or trailing blanks (trimmed), a trailing
 * backslash (joins the next line), a number Kong would rewrite ("0123" is
 * read as 123). The reason is a static string. */
const char *kong_value_problem(const char *value);

/* Why a value passed to Kong by environment (KONG_PG_PASSWORD) would not
 * reach Kong's nginx workers exactly, or NULL. `kong start`/`prepare`
 * trims KONG_* values, resolves {vault://…} references and writes every
 * value to <prefix>/.kong_env ('#' as '\#'); the workers re-read that file
 * with the kong.conf reader: kong_value_problem()'s rules apply, and a
 * vault reference is not a password. The reason is a static string that
 * never quotes the value. */
const char *kong_env_value_problem(const char *value);

/* Appends 'value' as Kong's conf_loader reads it back exactly: '#' is
 * written '\#'. -EINVAL (nothing appended) when kong_value_problem(). */
int kong_conf_escape(const char *value, Buf *out);

/* When Kong's Penlight reader would turn 'value' into a number whose text
 * differs ("0123" → "123", "1e5" → "100000"), that text; else NULL. */
char *kong_number_rewrite(const char *value);

/* Checks a listener list ("0.0.0.0:8000 ssl http2, [::]:8443 ssl" or
 * "off") against Kong's listener syntax; NULL or the reason (allocated). */
char *kong_listen_problem(const char *value);

/* Checks a trusted_ips list (addresses, CIDR blocks, "unix:"). */
char *kong_ip_list_problem(const char *value);

/* Appends 'value' double-quoted so that systemd's EnvironmentFile= parser
 * yields exactly these bytes (it unescapes \" \\ \` \$ inside "…"). */
int env_file_quote(const char *value, Buf *out);
/* The same, for a value of several lines (PEM): line feeds stay line
 * feeds inside the quotes; other control characters are refused. */
int env_file_quote_lines(const char *value, Buf *out);

/* 'provenance': a comment above each setting says where it came from (for
 * `render`; the file Kong reads stays free of it so that a moved source
 * line does not rewrite it). */
int render_kong_conf(const Config *c, const DbParams *db, char *const *vpc_cidrs, bool provenance, Buf *ret,
                     Error *err);

/* 'redact': the password is written as <redacted> (for `render`). A
 * password kong_env_value_problem() refuses fails with -EINVAL, redacted
 * or not: the message names the problem and the fix, never the value. */
int render_env_file(const DbParams *db, bool redact, Buf *ret, Error *err);

/* The env file must live on tmpfs (or ramfs): 0 if its directory (or the
 * nearest existing parent) is, else an error naming the file system. */
int env_file_location_check(const char *path, const char *source, Error *err);

/* A line diff of 'old' and 'new' ("-"/"+"/" " prefixed lines). */
char *render_diff(const char *old, const char *new);
