/* SPDX-License-Identifier: Apache-2.0 */
#include "awserror.h"

#include "http.h"
#include "json.h"

int aws_parse_json_error(const char *body, size_t len, char **ret_code, char **ret_message)
{
        cJSON *o = cJSON_ParseWithLength(body, len);
        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return -EBADMSG;
        }
        const char *type = json_string(o, "__type");
        if (!type)
                type = json_string(o, "code");
        const char *message = json_string(o, "message");
        if (!message)
                message = json_string(o, "Message");

        char *code = NULL;
        if (type) {
                /* "com.amazonaws.secretsmanager#ResourceNotFoundException" or
                 * "ResourceNotFoundException:http://internal.amazon.com/…" */
                const char *hash = strrchr(type, '#');
                const char *start = hash ? hash + 1 : type;
                _cleanup_free_ char *raw = xstrndup(start, strcspn(start, ":"));
                code = sanitize_for_log(raw, 128);
        }
        *ret_code = code;
        *ret_message = message ? sanitize_for_log(message, 300) : NULL;
        cJSON_Delete(o);
        return 0;
}

/* The text between <tag> and </tag>, first occurrence, entities decoded. */
static char *xml_element(const char *body, size_t len, const char *tag)
{
        _cleanup_free_ char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
        const char *end = body + len;
        const char *start = memmem(body, len, open, strlen(open));
        if (!start)
                return NULL;
        start += strlen(open);
        const char *stop = memmem(start, (size_t)(end - start), close, strlen(close));
        if (!stop)
                return NULL;
        static const struct {
                const char *entity;
                char ch;
        } entities[] = {
                { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' }
        };
        _cleanup_buf_ Buf out = { 0 };
        buf_puts(&out, "");
        for (const char *p = start; p < stop; p++) {
                bool decoded = false;
                for (size_t i = 0; *p == '&' && i < ELEMENTSOF(entities); i++) {
                        size_t n = strlen(entities[i].entity);
                        if ((size_t)(stop - p) >= n && memcmp(p, entities[i].entity, n) == 0) {
                                buf_append(&out, &entities[i].ch, 1);
                                p += n - 1;
                                decoded = true;
                                break;
                        }
                }
                if (!decoded)
                        buf_append(&out, p, 1);
        }
        return sanitize_for_log(out.data, 400);
}

int aws_parse_xml_error(const char *body, size_t len, char **ret_code, char **ret_message)
{
        if (!memmem(body, len, "<Error>", 7)) {
                *ret_code = *ret_message = NULL;
                return -EBADMSG;
        }
        *ret_code = xml_element(body, len, "Code");
        *ret_message = xml_element(body, len, "Message");
        return 0;
}

void aws_parse_error(const char *body, size_t len, char **ret_code, char **ret_message)
{
        if (aws_parse_json_error(body, len, ret_code, ret_message) >= 0 && (*ret_code || *ret_message))
                return;
        if (aws_parse_xml_error(body, len, ret_code, ret_message) < 0)
                *ret_code = *ret_message = NULL;
}

bool aws_error_is_retryable(long status, const char *code)
{
        static const char *const codes[] = { "ThrottlingException",      "Throttling",
                                             "TooManyRequestsException", "RequestLimitExceeded",
                                             "InternalServiceError",     "InternalFailure",
                                             "ServiceUnavailable",       NULL };
        return http_status_is_retryable(status) || (code && strv_contains((char **)codes, code));
}

char *aws_explain_common_error(const char *code)
{
        if (!code)
                return NULL;
        if (streq(code, "InvalidClientTokenId") || streq(code, "UnrecognizedClientException") ||
            streq(code, "ExpiredTokenException") || streq(code, "ExpiredToken"))
                return xasprintf("AWS rejected the instance role's credentials (%s)", code);
        if (streq(code, "SignatureDoesNotMatch") || streq(code, "IncompleteSignature"))
                return xasprintf(
                        "AWS rejected the request signature (%s): the credentials' secret key does not "
                        "match its key id",
                        code);
        if (streq(code, "RequestExpired") || streq(code, "InvalidSignatureException"))
                return xasprintf("AWS rejected the request time (%s): is the system clock right?", code);
        return NULL;
}
