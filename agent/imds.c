/* SPDX-License-Identifier: Apache-2.0 */
#include "imds.h"

#include <ctype.h>
#include <stddef.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "retry.h"

/* Six hours, the most IMDS allows: one token serves a whole boot. */
#define IMDS_TOKEN_TTL       "21600"
#define IMDS_ATTEMPT_TIMEOUT (2 * USEC_PER_SEC)
#define IMDS_MAX_BODY        (64 * 1024)
#define IMDS_BACKOFF_BASE    (100 * USEC_PER_MSEC)
#define IMDS_BACKOFF_CAP     (5 * USEC_PER_SEC)
#define IMDS_GET_TIMEOUT     (30 * USEC_PER_SEC)

struct Imds {
        char *endpoint;
        char *token; /* secret */
};

Imds *imds_free(Imds *m)
{
        if (m) {
                free(m->endpoint);
                secret_free(m->token);
                free(m);
        }
        return NULL;
}

static int imds_fetch_token(Imds *m, usec_t timeout, Error *err)
{
        _cleanup_free_ char *url = xasprintf("%s/latest/api/token", m->endpoint);
        char *headers[] = { "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL, NULL };
        HttpRequest req = {
                .method = "PUT",
                .url = url,
                .headers = headers,
                .timeout = IMDS_ATTEMPT_TIMEOUT,
                .max_body = 4096,
                .no_proxy = true,
        };
        Backoff b;
        int r;

        backoff_init(&b, timeout, IMDS_BACKOFF_BASE, IMDS_BACKOFF_CAP);
        for (;;) {
                HttpResponse resp = { 0 };
                r = http_perform(&req, &resp, err);
                if (r >= 0) {
                        long status = resp.status;
                        if (status == 200 && resp.body.len > 0) {
                                secret_free(m->token);
                                m->token = buf_steal(&resp.body);
                                http_response_done(&resp);
                                return 0;
                        }
                        http_response_done(&resp);
                        if (status == 403)
                                return error_set(
                                        err, -EACCES,
                                        "IMDS at %s refused a token (403): the instance metadata "
                                        "service is disabled for this instance (HttpEndpoint=disabled)",
                                        m->endpoint);
                        if (!http_status_is_retryable(status) && status != 200)
                                return error_set(err, -EPROTO, "IMDS token request to %s answered HTTP %ld",
                                                 url, status);
                        r = error_set(err, -EAGAIN, "IMDS token request to %s answered HTTP %ld", url,
                                      status);
                }
                if (!backoff_wait(&b))
                        break;
                log_debug(STAGE_IMDS, "IMDS not answering yet (%s), retrying", err->msg);
        }
        if (r == -ETIMEDOUT)
                error_prefix(err,
                             "IMDS token request timed out (if this runs in a container, the instance's "
                             "metadata hop limit is probably 1: raise HttpPutResponseHopLimit to 2)");
        else
                error_prefix(err, "IMDS did not answer within %llu s",
                             (unsigned long long)(timeout / USEC_PER_SEC));
        return r;
}

int imds_new(Imds **ret, const char *endpoint, usec_t timeout, Error *err)
{
        Imds *m = xcalloc(1, sizeof(Imds));
        m->endpoint = xstrdup(endpoint);
        size_t n = strlen(m->endpoint);
        while (n > 0 && m->endpoint[n - 1] == '/')
                m->endpoint[--n] = '\0';

        int r = imds_fetch_token(m, timeout, err);
        if (r < 0) {
                imds_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

static int imds_get_sized(Imds *m, const char *path, char **ret, size_t *ret_len, Error *err)
{
        _cleanup_free_ char *url = xasprintf("%s/latest/%s", m->endpoint, path);
        bool refreshed = false;
        Backoff b;
        int r;

        backoff_init(&b, IMDS_GET_TIMEOUT, IMDS_BACKOFF_BASE, IMDS_BACKOFF_CAP);
        for (;;) {
                _cleanup_secret_ char *token_header = xasprintf("X-aws-ec2-metadata-token: %s", m->token);
                char *headers[] = { token_header, NULL };
                HttpRequest req = {
                        .method = "GET",
                        .url = url,
                        .headers = headers,
                        .timeout = IMDS_ATTEMPT_TIMEOUT,
                        .max_body = IMDS_MAX_BODY,
                        .no_proxy = true,
                };
                HttpResponse resp = { 0 };

                r = http_perform(&req, &resp, err);
                if (r == -EFBIG)
                        return r; /* no retry makes a peer send less */
                if (r >= 0) {
                        long status = resp.status;
                        if (status == 200) {
                                if (ret_len)
                                        *ret_len = resp.body.len;
                                *ret = buf_steal(&resp.body);
                                return 0;
                        }
                        http_response_done(&resp);
                        if (status == 404)
                                return error_set(err, -ENOENT, "IMDS has no %s (404)", path);
                        if (status == 403)
                                return error_set(err, -EACCES,
                                                 "IMDS refused %s (403): the instance metadata service is "
                                                 "disabled for this instance (HttpEndpoint=disabled)",
                                                 path);
                        if (status == 401 && !refreshed) {
                                /* The token expired or IMDS restarted: one new token, one retry. */
                                refreshed = true;
                                r = imds_fetch_token(m, IMDS_GET_TIMEOUT, err);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        if (!http_status_is_retryable(status))
                                return error_set(err, -EPROTO, "IMDS answered HTTP %ld for %s", status,
                                                 path);
                        r = error_set(err, -EAGAIN, "IMDS answered HTTP %ld for %s", status, path);
                }
                if (!backoff_wait(&b))
                        return r;
        }
}

int imds_get(Imds *m, const char *path, char **ret, Error *err)
{
        return imds_get_sized(m, path, ret, NULL, err);
}

void instance_info_done(InstanceInfo *i)
{
        free(i->region);
        free(i->availability_zone);
        free(i->instance_id);
        free(i->mac);
        strv_free(i->vpc_cidrs);
        *i = (InstanceInfo){ 0 };
}

/* IMDS values we put in URLs, logs and kong.conf must look like what AWS
 * sends; anything else is a broken or hostile peer. */
static bool is_token_like(const char *s, const char *extra)
{
        if (isempty(s) || strlen(s) > 255)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr(extra, *p))
                        return false;
        return true;
}

static int imds_get_checked(Imds *m, const char *path, const char *extra, char **ret, Error *err)
{
        _cleanup_free_ char *v = NULL;
        int r = imds_get(m, path, &v, err);
        if (r < 0)
                return r;
        char *s = strip(v);
        if (!is_token_like(s, extra)) {
                _cleanup_free_ char *shown = sanitize_for_log(s, 64);
                return error_set(err, -EBADMSG, "IMDS returned a malformed %s: '%s'", path, shown);
        }
        *ret = xstrdup(s);
        return 0;
}

int imds_parse_cidrs(const char *text, char ***ret, Error *err)
{
        _cleanup_strv_ char **l = NULL;
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = NULL;

        for (char *t = strtok_r(copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                char *cidr = strip(t);
                if (*cidr == '\0')
                        continue;
                if (!cidr_is_valid(cidr)) {
                        _cleanup_free_ char *shown = sanitize_for_log(cidr, 64);
                        return error_set(err, -EBADMSG, "IMDS returned a malformed VPC CIDR block '%s'",
                                         shown);
                }
                strv_push(&l, xstrdup(cidr));
        }
        if (!l)
                return error_set(err, -EBADMSG, "IMDS returned no VPC CIDR block");
        *ret = l;
        l = NULL;
        return 0;
}

int imds_parse_identity(const char *json, size_t len, InstanceInfo *ret, Error *err)
{
        static const struct {
                const char *field;
                size_t offset;
        } fields[] = {
                { "region", offsetof(InstanceInfo, region) },
                { "availabilityZone", offsetof(InstanceInfo, availability_zone) },
                { "instanceId", offsetof(InstanceInfo, instance_id) },
        };
        cJSON *o = cJSON_ParseWithLength(json, len);
        InstanceInfo i = { 0 };
        int r = 0;

        if (!cJSON_IsObject(o)) {
                r = error_set(err, -EBADMSG, "IMDS instance identity document is not a JSON object");
                goto out;
        }
        for (size_t f = 0; f < ELEMENTSOF(fields); f++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, fields[f].field);
                if (!cJSON_IsString(v) || !is_token_like(v->valuestring, "-")) {
                        r = error_set(err, -EBADMSG, "IMDS instance identity document has no valid '%s'",
                                      fields[f].field);
                        goto out;
                }
                *(char **)((char *)&i + fields[f].offset) = xstrdup(v->valuestring);
        }
        *ret = i;
        i = (InstanceInfo){ 0 };
out:
        instance_info_done(&i);
        cJSON_Delete(o);
        return r;
}

int imds_get_instance(Imds *m, InstanceInfo *ret, Error *err)
{
        InstanceInfo i = { 0 };
        _cleanup_free_ char *identity = NULL, *cidrs = NULL, *cidr_path = NULL;
        int r;

        /* One request for region, zone and instance id instead of three. */
        if ((r = imds_get(m, "dynamic/instance-identity/document", &identity, err)) < 0 ||
            (r = imds_parse_identity(identity, strlen(identity), &i, err)) < 0 ||
            (r = imds_get_checked(m, "meta-data/mac", ":", &i.mac, err)) < 0)
                goto fail;

        cidr_path = xasprintf("meta-data/network/interfaces/macs/%s/vpc-ipv4-cidr-blocks", i.mac);
        if ((r = imds_get(m, cidr_path, &cidrs, err)) < 0 ||
            (r = imds_parse_cidrs(cidrs, &i.vpc_cidrs, err)) < 0)
                goto fail;
        *ret = i;
        return 0;
fail:
        instance_info_done(&i);
        return r;
}

int imds_get_role(Imds *m, char **ret, Error *err)
{
        _cleanup_free_ char *roles = NULL;

        int r = imds_get(m, "meta-data/iam/security-credentials/", &roles, err);
        if (r == -ENOENT)
                return error_set(err, r,
                                 "the instance has no IAM instance profile: attach a role allowed to call "
                                 "secretsmanager:GetSecretValue on the secret");
        if (r < 0)
                return r;
        /* One role per instance profile; the first line names it. */
        roles[strcspn(roles, "\n")] = '\0';
        char *role = strip(roles);
        if (!is_token_like(role, "+=,.@_-")) {
                _cleanup_free_ char *shown = sanitize_for_log(role, 64);
                return error_set(err, -EBADMSG, "IMDS returned a malformed IAM role name '%s'", shown);
        }
        *ret = xstrdup(role);
        return 0;
}

int imds_get_tags(Imds *m, char *const *prefixes, char ***ret_keys, char ***ret_values, Error *err)
{
        _cleanup_free_ char *list = NULL;
        _cleanup_strv_ char **keys = NULL, **values = NULL;
        char *save = NULL;

        int r = imds_get(m, "meta-data/tags/instance", &list, err);
        if (r == -ENOENT) {
                *ret_keys = *ret_values = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        for (char *t = strtok_r(list, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                char *key = strip(t);
                bool wanted = false;
                for (size_t i = 0; prefixes && prefixes[i]; i++)
                        wanted = wanted || startswith(key, prefixes[i]);
                if (!wanted)
                        continue;
                /* Keys we ask for go into a URL path: only plain characters.
                 * Another key is handed on with an empty value, unread, for
                 * the caller to refuse: a stray tag must not stop a boot. */
                if (!is_token_like(key, ":_.-")) {
                        strv_push(&keys, xstrdup(key));
                        strv_push(&values, xstrdup(""));
                        continue;
                }
                _cleanup_free_ char *path = xasprintf("meta-data/tags/instance/%s", key);
                char *value = NULL;
                r = imds_get(m, path, &value, err);
                if (r < 0)
                        return r;
                strv_push(&keys, xstrdup(key));
                strv_push(&values, value);
        }
        *ret_keys = keys;
        *ret_values = values;
        keys = values = NULL;
        return 0;
}

int imds_get_user_data(Imds *m, Buf *ret, Error *err)
{
        char *data = NULL;
        size_t len = 0;
        int r = imds_get_sized(m, "user-data", &data, &len, err);
        if (r < 0)
                return r;
        /* Whole, NULs included: userdata_extract() decides what a NUL
         * means (gzip is not ours; a NUL in our text is refused). */
        *ret = (Buf){ 0 };
        buf_append(ret, data, len);
        free(data);
        return 0;
}

int imds_parse_credentials(const char *json, size_t len, AwsCredentials *ret, Error *err)
{
        cJSON *o = cJSON_ParseWithLength(json, len);
        int r = 0;

        if (!cJSON_IsObject(o)) {
                r = error_set(err, -EBADMSG, "IMDS role credentials are not a JSON object");
                goto out;
        }
        const char *code = json_string(o, "Code");
        if (!code || !streq(code, "Success")) {
                _cleanup_free_ char *shown = sanitize_for_log(code ? code : "(missing)", 64);
                _cleanup_free_ char *msg = sanitize_for_log(json_string(o, "Message") ?: "", 200);
                r = error_set(err, -EBADMSG, "IMDS role credentials have Code '%s'%s%s", shown,
                              *msg ? ": " : "", msg);
                goto out;
        }
        const char *id = json_string(o, "AccessKeyId"), *secret = json_string(o, "SecretAccessKey"),
                   *token = json_string(o, "Token"), *expiration = json_string(o, "Expiration");
        if (isempty(id) || isempty(secret) || isempty(token)) {
                r = error_set(err, -EBADMSG,
                              "IMDS role credentials lack AccessKeyId, SecretAccessKey or Token");
                goto out;
        }
        if (!is_token_like(id, "")) {
                r = error_set(err, -EBADMSG, "IMDS role credentials carry a malformed AccessKeyId");
                goto out;
        }
        *ret = (AwsCredentials){
                .access_key_id = xstrdup(id),
                .secret_access_key = xstrdup(secret),
                .session_token = xstrdup(token),
                .expiration = xstrdup(expiration),
        };
out:
        cJSON_Delete(o);
        return r;
}

int imds_get_role_credentials(Imds *m, const char *role, AwsCredentials *ret, Error *err)
{
        _cleanup_free_ char *path = xasprintf("meta-data/iam/security-credentials/%s", role);
        _cleanup_secret_ char *json = NULL;

        int r = imds_get(m, path, &json, err);
        if (r < 0 || !json)
                return r < 0 ? r : -EIO;
        return imds_parse_credentials(json, strlen(json), ret, err);
}
