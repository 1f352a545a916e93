/* SPDX-License-Identifier: Apache-2.0 */
#include "autoscaling.h"

#include <ctype.h>
#include <stdio.h>

#include "awserror.h"
#include "log.h"
#include "retry.h"

#define AUTOSCALING_ATTEMPT_TIMEOUT (10 * USEC_PER_SEC)
#define AUTOSCALING_MAX_BODY        (64 * 1024)

void form_append(Buf *b, const char *key, const char *value)
{
        if (b->len > 0)
                buf_puts(b, "&");
        buf_puts(b, key);
        buf_puts(b, "=");
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                if (isalnum(*p) || strchr("-._~", *p))
                        buf_append(b, p, 1);
                else
                        buf_printf(b, "%%%02X", *p);
        }
}

static char *explain(const char *code, const char *action)
{
        if (!code)
                return NULL;
        if (streq(code, "AccessDenied") || streq(code, "AccessDeniedException") ||
            streq(code, "UnauthorizedOperation"))
                return xasprintf("the instance role lacks autoscaling:%s on the group", action);
        if (streq(code, "InvalidClientTokenId") || streq(code, "ExpiredToken") ||
            streq(code, "ExpiredTokenException"))
                return xasprintf("AWS rejected the instance role's credentials (%s)", code);
        if (streq(code, "SignatureDoesNotMatch") || streq(code, "IncompleteSignature"))
                return xasprintf("AWS rejected the request signature (%s)", code);
        return NULL;
}

/* One Query API action; 1 when AWS says there is no active lifecycle
 * action (a ValidationError with that text). */
static int call(const AwsEndpoint *ep, const char *action, const LifecycleAction *a, const char *result,
                Error *err)
{
        char *headers[] = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL };
        _cleanup_buf_ Buf body = { 0 };
        Backoff b;
        int r;

        form_append(&body, "Action", action);
        form_append(&body, "Version", "2011-01-01");
        form_append(&body, "AutoScalingGroupName", a->group);
        form_append(&body, "LifecycleHookName", a->hook);
        form_append(&body, "InstanceId", a->instance_id);
        if (result)
                form_append(&body, "LifecycleActionResult", result);

        HttpRequest req = {
                .method = "POST",
                .url = ep->url,
                .headers = headers,
                .body = body.data,
                .body_len = body.len,
                .timeout = AUTOSCALING_ATTEMPT_TIMEOUT,
                .max_body = AUTOSCALING_MAX_BODY,
                .sigv4_region = ep->region,
                .sigv4_service = "autoscaling",
                .credentials = ep->credentials,
        };
        backoff_init(&b, ep->timeout, 200 * USEC_PER_MSEC, 20 * USEC_PER_SEC);
        for (;;) {
                HttpResponse resp = { 0 };
                r = http_perform(&req, &resp, err);
                if (r == -EFBIG)
                        return r;
                if (r >= 0) {
                        long status = resp.status;
                        if (status == 200) {
                                http_response_done(&resp);
                                return LIFECYCLE_DONE;
                        }
                        _cleanup_free_ char *code = NULL, *message = NULL;
                        aws_parse_error(resp.body.data, resp.body.len, &code, &message);
                        http_response_done(&resp);
                        if (message && strstr(message, "No active Lifecycle Action found"))
                                return LIFECYCLE_NO_ACTIVE_ACTION;
                        _cleanup_free_ char *explained = explain(code, action);
                        r = error_set(err, -EPROTO,
                                      "%s for hook '%s' of group '%s' failed: %s%s(HTTP %ld%s%s%s%s)",
                                      action, a->hook, a->group, explained ?: "", explained ? " " : "",
                                      status, code ? ", " : "", code ?: "", message ? ": " : "",
                                      message ?: "");
                        if (!aws_error_is_retryable(status, code))
                                return r;
                }
                if (!backoff_wait(&b))
                        return r;
        }
}

int autoscaling_complete_lifecycle_action(const AwsEndpoint *ep, const LifecycleAction *a,
                                          const char *result, Error *err)
{
        return call(ep, "CompleteLifecycleAction", a, result, err);
}

int autoscaling_record_heartbeat(const AwsEndpoint *ep, const LifecycleAction *a, Error *err)
{
        return call(ep, "RecordLifecycleActionHeartbeat", a, NULL, err);
}
