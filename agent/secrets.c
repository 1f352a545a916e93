/* SPDX-License-Identifier: Apache-2.0 */
#include "secrets.h"

#include <malloc.h>
#include <stdio.h>

#include "awserror.h"
#include "json.h"
#include "log.h"
#include "retry.h"

#define SECRET_MAX_RESPONSE     (256 * 1024) /* a secret is at most 64 KiB, base64 and JSON add to it */
#define SECRETS_ATTEMPT_TIMEOUT (10 * USEC_PER_SEC)

static void wiping_free(void *p)
{
        if (p) {
                explicit_bzero(p, malloc_usable_size(p));
                free(p);
        }
}

void json_install_wiping_hooks(void)
{
        cJSON_Hooks hooks = { .malloc_fn = malloc, .free_fn = wiping_free };
        cJSON_InitHooks(&hooks);
}

void secret_value_done(SecretValue *v)
{
        free(v->arn);
        free(v->name);
        free(v->version_id);
        secret_free(v->string);
        *v = (SecretValue){ 0 };
}

void db_secret_done(DbSecret *s)
{
        free(s->engine);
        free(s->host);
        free(s->port);
        free(s->dbname);
        free(s->username);
        secret_free(s->password);
        *s = (DbSecret){ 0 };
}

int secrets_parse_response(const char *body, size_t len, SecretValue *ret, Error *err)
{
        cJSON *o = cJSON_ParseWithLength(body, len);
        SecretValue v = { 0 };
        int r = 0;

        if (!cJSON_IsObject(o)) {
                r = error_set(err, -EBADMSG, "Secrets Manager answered with something that is not JSON");
                goto out;
        }
        const char *string = json_string(o, "SecretString"), *binary = json_string(o, "SecretBinary");
        if (string)
                v.string = xstrdup(string);
        else if (binary) {
                Buf decoded = { .secret = true };
                if (base64_decode(binary, strlen(binary), &decoded) < 0 ||
                    memchr(decoded.data, '\0', decoded.len)) {
                        buf_done(&decoded);
                        r = error_set(err, -EBADMSG,
                                      "the secret's SecretBinary is not base64 of a text value");
                        goto out;
                }
                v.string = buf_steal(&decoded);
        } else {
                r = error_set(err, -EBADMSG, "the secret has neither SecretString nor SecretBinary");
                goto out;
        }
        v.arn = sanitize_for_log(json_string(o, "ARN") ?: "", 2048);
        v.name = sanitize_for_log(json_string(o, "Name") ?: "", 512);
        v.version_id = sanitize_for_log(json_string(o, "VersionId") ?: "", 128);
        *ret = v;
        v = (SecretValue){ 0 };
out:
        secret_value_done(&v);
        cJSON_Delete(o);
        return r;
}

static char *explain_error(const char *code, const char *message, const char *secret_id, const char *id_key)
{
        if (!code)
                return NULL;
        if (streq(code, "AccessDeniedException") || streq(code, "AccessDenied"))
                return xasprintf(
                        "the instance role lacks secretsmanager:GetSecretValue on '%s' (or kms:Decrypt "
                        "on its key)",
                        secret_id);
        if (streq(code, "ResourceNotFoundException"))
                return xasprintf("no secret '%s' in this account and region (check %s and region)",
                                 secret_id, id_key);
        if (streq(code, "DecryptionFailure"))
                return xasprintf("Secrets Manager cannot decrypt '%s': the KMS key policy must allow the "
                                 "instance role kms:Decrypt",
                                 secret_id);
        return aws_explain_common_error(code);
}

int secrets_get_value(const char *endpoint, const char *region, const AwsCredentials *creds,
                      const char *secret_id, const char *id_key, const char *version_stage, usec_t timeout,
                      SecretValue *ret, Error *err)
{
        char *headers[] = { "Content-Type: application/x-amz-json-1.1",
                            "X-Amz-Target: secretsmanager.GetSecretValue", NULL };
        _cleanup_free_ char *body = NULL;
        _cleanup_free_ char *shown_id = sanitize_for_log(secret_id, 2048);
        Backoff b;
        int r;

        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "SecretId", secret_id);
        if (!isempty(version_stage))
                cJSON_AddStringToObject(o, "VersionStage", version_stage);
        body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!body)
                return error_set(err, -ENOMEM, "out of memory");

        HttpRequest req = {
                .method = "POST",
                .url = endpoint,
                .headers = headers,
                .body = body,
                .body_len = strlen(body),
                .timeout = SECRETS_ATTEMPT_TIMEOUT,
                .max_body = SECRET_MAX_RESPONSE,
                .sigv4_region = region,
                .sigv4_service = "secretsmanager",
                .credentials = creds,
        };

        backoff_init(&b, timeout, 200 * USEC_PER_MSEC, 20 * USEC_PER_SEC);
        for (;;) {
                HttpResponse resp = { 0 };
                r = http_perform(&req, &resp, err);
                if (r == -EFBIG)
                        return r; /* retrying will not make the peer send less */
                if (r >= 0) {
                        if (resp.status == 200) {
                                r = secrets_parse_response(resp.body.data, resp.body.len, ret, err);
                                http_response_done(&resp);
                                return r;
                        }
                        _cleanup_free_ char *code = NULL, *message = NULL;
                        aws_parse_error(resp.body.data, resp.body.len, &code, &message);
                        long status = resp.status;
                        http_response_done(&resp);

                        _cleanup_free_ char *explained = explain_error(code, message, shown_id, id_key);
                        _cleanup_free_ char *shown_code = sanitize_for_log(code ?: "", 64);
                        r = error_set(err, -EPROTO, "GetSecretValue for '%s' failed: %s%s(HTTP %ld%s%s%s%s)",
                                      shown_id, explained ?: "", explained ? " " : "", status,
                                      code ? ", " : "", shown_code, message ? ": " : "", message ?: "");
                        if (code && (streq(code, "ExpiredTokenException") || streq(code, "ExpiredToken")))
                                return -EKEYEXPIRED;
                        if (!aws_error_is_retryable(status, code))
                                return r;
                }
                if (!backoff_wait(&b))
                        return r;
                log_info(STAGE_SECRETS, "retrying GetSecretValue: %s", err->msg);
        }
}

int secrets_parse_rds(const char *json, size_t len, DbSecret *ret, Error *err)
{
        cJSON *o = cJSON_ParseWithLength(json, len);
        DbSecret s = { 0 };
        int r = 0;

        /* Never quote the secret's text in an error: it holds the password. */
        if (!cJSON_IsObject(o)) {
                r = error_set(err, -EBADMSG,
                              "the secret value is not a JSON object (expected the RDS secret "
                              "format with username and password)");
                goto out;
        }
        static const char *const string_keys[] = { "engine", "host", "dbname", "username", "password" };
        for (size_t i = 0; i < ELEMENTSOF(string_keys); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, string_keys[i]);
                if (v && !cJSON_IsString(v)) {
                        r = error_set(err, -EBADMSG, "the secret's '%s' is not a string", string_keys[i]);
                        goto out;
                }
        }
        const char *username = json_string(o, "username"), *password = json_string(o, "password");
        if (isempty(username)) {
                r = error_set(err, -EBADMSG, "the secret has no 'username'");
                goto out;
        }
        if (isempty(password)) {
                r = error_set(err, -EBADMSG, "the secret has no 'password'");
                goto out;
        }
        const char *engine = json_string(o, "engine");
        if (engine && !streq(engine, "postgres") && !streq(engine, "aurora-postgresql")) {
                _cleanup_free_ char *shown = sanitize_for_log(engine, 64);
                r = error_set(err, -EBADMSG, "the secret's engine is '%s'; Kong needs PostgreSQL", shown);
                goto out;
        }

        const cJSON *port = cJSON_GetObjectItemCaseSensitive(o, "port");
        if (cJSON_IsNumber(port)) {
                double d = cJSON_GetNumberValue(port);
                if (d < 1 || d > 65535 || d != (double)(long)d) {
                        r = error_set(err, -EBADMSG, "the secret's 'port' is not a port number");
                        goto out;
                }
                s.port = xasprintf("%ld", (long)d);
        } else if (cJSON_IsString(port)) {
                uint16_t p;
                if (parse_port(port->valuestring, &p) < 0) {
                        r = error_set(err, -EBADMSG, "the secret's 'port' is not a port number");
                        goto out;
                }
                s.port = xasprintf("%u", p);
        } else if (port && !cJSON_IsNull(port)) {
                r = error_set(err, -EBADMSG, "the secret's 'port' is not a number or a string");
                goto out;
        }

        s.engine = xstrdup(engine);
        s.host = xstrdup(json_string(o, "host"));
        s.dbname = xstrdup(json_string(o, "dbname"));
        s.username = xstrdup(username);
        s.password = xstrdup(password);
        *ret = s;
        s = (DbSecret){ 0 };
out:
        db_secret_done(&s);
        cJSON_Delete(o);
        return r;
}
