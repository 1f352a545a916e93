/* SPDX-License-Identifier: Apache-2.0 */
#include "autoscaling.h"

#include "awserror.h"

#define AUTOSCALING_MAX_BODY (64 * 1024)

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
        _cleanup_buf_ Buf body = { 0 };
        _cleanup_(aws_refusal_done) AwsRefusal no = { 0 };
        HttpResponse resp = { 0 };

        form_append(&body, "Action", action);
        form_append(&body, "Version", "2011-01-01");
        form_append(&body, "AutoScalingGroupName", a->group);
        form_append(&body, "LifecycleHookName", a->hook);
        form_append(&body, "InstanceId", a->instance_id);
        if (result)
                form_append(&body, "LifecycleActionResult", result);

        int r = aws_query_post(ep, "autoscaling", &body, AUTOSCALING_MAX_BODY, &resp, &no, err);
        if (r < 0)
                return r;
        if (r == AWS_QUERY_OK) {
                http_response_done(&resp);
                return LIFECYCLE_DONE;
        }
        if (no.message && strstr(no.message, "No active Lifecycle Action found"))
                return LIFECYCLE_NO_ACTIVE_ACTION;
        _cleanup_free_ char *explained = explain(no.code, action);
        _cleanup_free_ char *text = aws_refusal_text(&no, explained);
        return error_set(err, -EPROTO, "%s for hook '%s' of group '%s' failed: %s", action, a->hook,
                         a->group, text);
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
