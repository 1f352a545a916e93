/* SPDX-License-Identifier: Apache-2.0 */
#include "cloudformation.h"

#include "awserror.h"
#include "retry.h"

#define CFN_ATTEMPT_TIMEOUT (10 * USEC_PER_SEC)
#define CFN_MAX_BODY        (64 * 1024)

void cfn_target_done(CfnTarget *t)
{
        free(t->stack);
        free(t->logical_id);
        *t = (CfnTarget){ 0 };
}

int cfn_target_parse(const char *value, CfnTarget *ret, Error *err)
{
        const char *slash = value ? strrchr(value, '/') : NULL;
        if (!slash || slash == value || !slash[1])
                return error_set(err, -EINVAL, "'%s' is not STACK/LogicalId", value ?: "");
        ret->stack = xstrndup(value, (size_t)(slash - value));
        ret->logical_id = xstrdup(slash + 1);
        return 0;
}

static char *explain(const char *code, const char *message, const CfnTarget *t)
{
        if (!code)
                return NULL;
        if (streq(code, "AccessDenied") || streq(code, "AccessDeniedException"))
                return xasprintf("the instance role lacks cloudformation:SignalResource on stack '%s'",
                                 t->stack);
        if (streq(code, "ValidationError") && message && strstr(message, "cannot be signaled"))
                return xasprintf("the stack no longer waits for this signal (its resource completed, or "
                                 "the stack is not being created or updated)");
        if (streq(code, "ValidationError") && message && strstr(message, "does not exist"))
                return xasprintf("no resource '%s' in stack '%s' (check cloudformation_signal)",
                                 t->logical_id, t->stack);
        return aws_explain_common_error(code);
}

int cloudformation_signal_resource(const AwsEndpoint *ep, const CfnTarget *t, const char *unique_id,
                                   const char *status, Error *err)
{
        char *headers[] = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL };
        _cleanup_buf_ Buf body = { 0 };
        Backoff b;
        int r;

        form_append(&body, "Action", "SignalResource");
        form_append(&body, "Version", "2010-05-15");
        form_append(&body, "StackName", t->stack);
        form_append(&body, "LogicalResourceId", t->logical_id);
        form_append(&body, "UniqueId", unique_id);
        form_append(&body, "Status", status);

        HttpRequest req = {
                .method = "POST",
                .url = ep->url,
                .headers = headers,
                .body = body.data,
                .body_len = body.len,
                .timeout = CFN_ATTEMPT_TIMEOUT,
                .max_body = CFN_MAX_BODY,
                .sigv4_region = ep->region,
                .sigv4_service = "cloudformation",
                .credentials = ep->credentials,
        };
        /* The lifecycle calls' backoff (autoscaling.c). */
        backoff_init(&b, ep->timeout, 200 * USEC_PER_MSEC, 20 * USEC_PER_SEC);
        for (;;) {
                HttpResponse resp = { 0 };
                r = http_perform(&req, &resp, err);
                if (r == -EFBIG)
                        return r;
                if (r >= 0) {
                        long http_status = resp.status;
                        if (http_status == 200) {
                                http_response_done(&resp);
                                return 0;
                        }
                        _cleanup_free_ char *code = NULL, *message = NULL;
                        aws_parse_error(resp.body.data, resp.body.len, &code, &message);
                        http_response_done(&resp);
                        _cleanup_free_ char *explained = explain(code, message, t);
                        r = error_set(err, -EPROTO,
                                      "SignalResource %s for resource '%s' of stack '%s' failed: %s%s(HTTP "
                                      "%ld%s%s%s%s)",
                                      status, t->logical_id, t->stack, explained ?: "", explained ? " " : "",
                                      http_status, code ? ", " : "", code ?: "", message ? ": " : "",
                                      message ?: "");
                        if (!aws_error_is_retryable(http_status, code))
                                return r;
                }
                if (!backoff_wait(&b))
                        return r;
        }
}
