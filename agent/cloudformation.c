/* SPDX-License-Identifier: Apache-2.0 */
#include "cloudformation.h"

#include "awserror.h"

#define CFN_MAX_BODY (64 * 1024)

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
        _cleanup_buf_ Buf body = { 0 };
        _cleanup_(aws_refusal_done) AwsRefusal no = { 0 };
        HttpResponse resp = { 0 };

        form_append(&body, "Action", "SignalResource");
        form_append(&body, "Version", "2010-05-15");
        form_append(&body, "StackName", t->stack);
        form_append(&body, "LogicalResourceId", t->logical_id);
        form_append(&body, "UniqueId", unique_id);
        form_append(&body, "Status", status);

        /* The lifecycle calls' backoff and timeouts (awsquery.c). */
        int r = aws_query_post(ep, "cloudformation", &body, CFN_MAX_BODY, &resp, &no, err);
        if (r < 0)
                return r;
        if (r == AWS_QUERY_OK) {
                http_response_done(&resp);
                return 0;
        }
        _cleanup_free_ char *explained = explain(no.code, no.message, t);
        _cleanup_free_ char *text = aws_refusal_text(&no, explained);
        return error_set(err, -EPROTO, "SignalResource %s for resource '%s' of stack '%s' failed: %s",
                         status, t->logical_id, t->stack, text);
}
