/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Kong's other secrets: kong_secret.<setting> = ID-OR-ARN[#JSON-KEY] puts
 * a Secrets Manager value into the env file as KONG_<SETTING> (never into
 * kong.conf, never into an argv): a license (KONG_LICENSE_DATA), a
 * certificate pair (ssl_cert/ssl_cert_key, cluster_cert/cluster_cert_key,
 * as PEM content), Kong Manager's session configuration, ….
 *
 * What Kong makes of KONG_<SETTING> [Kong/kong kong/conf_loader/parse.lua
 * overrides() and parse_value(), kong/cmd/utils/prefix_handler.lua]: the
 * value is trimmed of blanks; a list setting (ssl_cert, ssl_cert_key and
 * the admin_, admin_gui_, status_ variants) is split at every ','; a
 * certificate or key that is not a path is base64-decoded if it can be and
 * written to <prefix>/ssl/, the setting replaced by that path before
 * <prefix>/.kong_env is written; every other value goes to .kong_env,
 * which Kong's workers re-read with the kong.conf reader. A value Kong
 * would receive differently is refused, naming the setting; PEM content
 * may span lines (systemd keeps line feeds inside "…"), and its trailing
 * line feeds, which every PEM file has and Kong strips, are dropped.
 *
 * No logging here; boot.c fetches (with the database secret's client,
 * retries and error sentences) and logs.
 */

#include "config.h"
#include "secrets.h"

typedef struct KongSecretRef {
        char *setting;   /* "ssl_cert" */
        char *secret_id; /* name or ARN */
        char *json_key;  /* NULL: the whole secret value */
        char *source;    /* where kong_secret.<setting> was set */
        char *value;     /* secret: what KONG_<SETTING> carries, once fetched */
} KongSecretRef;

/* One per distinct secret: fetched once, watched for rotation. */
typedef struct KongSecretVersion {
        char *secret_id;
        char *arn;
        char *version_id;
} KongSecretVersion;

typedef struct KongSecrets {
        KongSecretRef *refs;
        size_t n_refs;
        KongSecretVersion *versions;
        size_t n_versions;
        bool fetched;
} KongSecrets;

void kong_secrets_done(KongSecrets *ks);

/* "ID-OR-ARN[#JSON-KEY]" for 'setting', set in 'source': a setting
 * kong-bootstrap renders itself (listeners, database, …) or the database
 * password is refused, and so is an empty id or key. */
int kong_secret_ref_parse(const char *setting, const char *value, const char *source, KongSecretRef *ret,
                          Error *err);

/* Every kong_secret.<setting> of 'c', parsed; an empty one (a later
 * source taking a mapping back) is left out; a setting also given as
 * kong.<setting> is refused (the environment would silently win). */
int kong_secrets_from_config(const Config *c, KongSecrets *ret, Error *err);

/* GetSecretValue for 'secret_id' (the caller's client, retries and
 * errors); 'key' is the setting that names it ("kong_secret.<setting>",
 * the first of those sharing the secret), for the caller's hints. */
typedef int (*KongSecretFetchFn)(const char *secret_id, const char *key, SecretValue *ret, void *userdata,
                                 Error *err);

/* One fetch per distinct secret (ids naming it by name and by ARN
 * count as one: those Secrets Manager returned); each setting's value
 * picked (the whole SecretString or its JSON key) and checked. Errors name the
 * setting, its source and the secret, never the value. */
int kong_secrets_fetch(KongSecrets *ks, KongSecretFetchFn fetch, void *userdata, Error *err);

/* Why KONG_<setting>=value would not reach Kong exactly, or NULL (a
 * static string that never quotes the value). 'value' has its trailing
 * line feeds dropped first when it is PEM content (see above). */
const char *kong_secret_value_problem(const char *setting, char *value);

/* Appends KONG_<SETTING>="…" lines ('redact': <redacted>). */
int kong_secrets_render(const KongSecrets *ks, bool redact, Buf *out, Error *err);

/* The secret ids whose version differs between 'old' and 'new' (both
 * fetched from the same configuration), as "ID (VERSION -> VERSION)". */
char **kong_secrets_moved(const KongSecrets *old, const KongSecrets *new);
