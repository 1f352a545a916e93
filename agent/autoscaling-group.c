/* SPDX-License-Identifier: Apache-2.0 */
#include "autoscaling-group.h"

#include <stdio.h>

#include "awserror.h"

/* A group holds at most a few thousand instances: ~600 bytes each. */
#define DESCRIBE_MAX_BODY (4 * 1024 * 1024)

void group_instances_free(GroupInstance *l, size_t n)
{
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].instance_id);
                free(l[i].lifecycle_state);
                free(l[i].zone);
        }
        free(l);
}

bool group_state_counts(const char *s)
{
        return s && (streq(s, "InService") || startswith(s, "Pending"));
}

/* [*start, end) of the first <tag>…</tag> inside [p, end); a self-closed
 * <tag/> is an empty element. */
static bool element(const char *p, const char *end, const char *tag, const char **ret_start,
                    const char **ret_end, const char **ret_after)
{
        char open[64], selfclosed[64], close[64];
        (void)snprintf(open, sizeof(open), "<%s>", tag);
        (void)snprintf(selfclosed, sizeof(selfclosed), "<%s/>", tag);
        (void)snprintf(close, sizeof(close), "</%s>", tag);
        const char *o = memmem(p, (size_t)(end - p), open, strlen(open));
        const char *s = memmem(p, (size_t)(end - p), selfclosed, strlen(selfclosed));
        if (s && (!o || s < o)) {
                *ret_start = *ret_end = s;
                *ret_after = s + strlen(selfclosed);
                return true;
        }
        if (!o)
                return false;
        const char *start = o + strlen(open);
        const char *c = memmem(start, (size_t)(end - start), close, strlen(close));
        if (!c)
                return false;
        *ret_start = start;
        *ret_end = c;
        *ret_after = c + strlen(close);
        return true;
}

/* The non-empty text of <tag> in [p, end) (no entities expected in ids and states:
 * anything but [A-Za-z0-9:._-] is refused). */
static char *text_of(const char *p, const char *end, const char *tag)
{
        const char *s, *e, *after;
        if (!element(p, end, tag, &s, &e, &after) || e == s || e - s > 256)
                return NULL; /* missing, empty or absurd */
        for (const char *q = s; q < e; q++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:._-", *q) || !*q)
                        return NULL;
        return xstrndup(s, (size_t)(e - s));
}

int autoscaling_parse_describe(const char *body, size_t len, GroupInstance **ret, size_t *ret_n)
{
        const char *end = body + len, *s, *e, *after;

        if (!element(body, end, "DescribeAutoScalingGroupsResult", &s, &e, &after))
                return -EBADMSG;
        if (!element(s, e, "AutoScalingGroups", &s, &e, &after))
                return -EBADMSG;
        /* the group's own <member> (one group was asked for) */
        const char *gs, *ge;
        if (!element(s, e, "member", &gs, &ge, &after))
                return -ENOENT;
        /* its <member> holds nested members: the group ends at the last
         * </member> of the list */
        const char *last = NULL;
        for (const char *q = gs; (q = memmem(q, (size_t)(e - q), "</member>", 9)); q += 9)
                last = q;
        ge = last ? last : ge;

        GroupInstance *list = NULL;
        size_t n = 0;
        const char *is, *ie;
        if (element(gs, ge, "Instances", &is, &ie, &after)) {
                const char *p = is, *ms, *me;
                while (p < ie && element(p, ie, "member", &ms, &me, &after)) {
                        char *id = text_of(ms, me, "InstanceId");
                        if (!id) {
                                group_instances_free(list, n);
                                return -EBADMSG;
                        }
                        list = xrealloc(list, (n + 1) * sizeof(GroupInstance));
                        list[n++] = (GroupInstance){
                                .instance_id = id,
                                .lifecycle_state = text_of(ms, me, "LifecycleState"),
                                .zone = text_of(ms, me, "AvailabilityZone"),
                        };
                        p = after;
                }
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

static char *explain(const char *code)
{
        if (code && (streq(code, "AccessDenied") || streq(code, "AccessDeniedException") ||
                     streq(code, "UnauthorizedOperation")))
                return xstrdup(
                        "the instance role lacks autoscaling:DescribeAutoScalingGroups (Resource \"*\": "
                        "the action has no resource-level permissions)");
        return aws_explain_common_error(code);
}

int autoscaling_describe_group(const AwsEndpoint *ep, const char *group, GroupInstance **ret, size_t *ret_n,
                               Error *err)
{
        _cleanup_buf_ Buf body = { 0 };
        _cleanup_(aws_refusal_done) AwsRefusal no = { 0 };
        HttpResponse resp = { 0 };

        form_append(&body, "Action", "DescribeAutoScalingGroups");
        form_append(&body, "Version", "2011-01-01");
        form_append(&body, "AutoScalingGroupNames.member.1", group);

        int r = aws_query_post(ep, "autoscaling", &body, DESCRIBE_MAX_BODY, &resp, &no, err);
        if (r < 0)
                return r;
        if (r == AWS_QUERY_REFUSED) {
                _cleanup_free_ char *explained = explain(no.code);
                _cleanup_free_ char *text = aws_refusal_text(&no, explained);
                return error_set(err, -EPROTO, "DescribeAutoScalingGroups for group '%s' failed: %s", group,
                                 text);
        }
        r = autoscaling_parse_describe(resp.body.data ? resp.body.data : "", resp.body.len, ret, ret_n);
        http_response_done(&resp);
        if (r == -ENOENT)
                return error_set(err, r,
                                 "DescribeAutoScalingGroups: AWS has no Auto Scaling group '%s' in this "
                                 "account and region",
                                 group);
        if (r < 0)
                return error_set(err, r,
                                 "DescribeAutoScalingGroups for group '%s': the answer is not a group "
                                 "description",
                                 group);
        return 0;
}
