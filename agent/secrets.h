/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Secrets Manager GetSecretValue (JSON 1.1, SigV4) and the RDS secret JSON. */

#include "http.h"

typedef struct SecretValue {
        char *arn;
        char *name;
        char *version_id;
        char *string; /* secret: SecretString, or SecretBinary decoded */
} SecretValue;

void secret_value_done(SecretValue *v);

/* The RDS secret JSON; every field but username/password may be NULL. */
typedef struct DbSecret {
        char *engine;
        char *host;
        char *port; /* digits; the JSON may hold a number or a string */
        char *dbname;
        char *username;
        char *password; /* secret */
} DbSecret;

void db_secret_done(DbSecret *s);

/* Makes cJSON wipe every block it frees: parsed secrets live in cJSON
 * strings for a moment. Call once, before any parsing. */
void json_install_wiping_hooks(void);

/* Retries what is retryable until 'timeout'. -EKEYEXPIRED when AWS says
 * the credentials expired (the caller fetches new ones and calls again).
 * 'id_key' names the setting that gave secret_id ("secret_id",
 * "kong_secret.license_data"), for the hint of a secret that is not there. */
int secrets_get_value(const char *endpoint, const char *region, const AwsCredentials *creds,
                      const char *secret_id, const char *id_key, const char *version_stage, usec_t timeout,
                      SecretValue *ret, Error *err);

/* The body of a GetSecretValue 200 response. */
int secrets_parse_response(const char *body, size_t len, SecretValue *ret, Error *err);
int secrets_parse_rds(const char *json, size_t len, DbSecret *ret, Error *err);
