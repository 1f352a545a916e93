/* SPDX-License-Identifier: Apache-2.0 */
#include "autoscaling-group.h"

#include <stdio.h>

#include "awserror.h"

/* A group holds at most a few thousand instances: ~600 bytes each. */
#define DESCRIBE_MAX_BODY (4 * 1024 * 1024)
/* Pages of one call's names: 50 names fit one page at the default
 * MaxRecords (50); more than a few pages is not an answer to our call. */
#define DESCRIBE_MAX_PAGES 10
#define NEXT_TOKEN_MAX     2048

void group_instances_free(GroupInstance *l, size_t n)
{
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].instance_id);
                free(l[i].lifecycle_state);
                free(l[i].zone);
        }
        free(l);
}

void scaling_groups_free(ScalingGroup *l, size_t n)
{
        for (size_t i = 0; l && i < n; i++) {
                free(l[i].name);
                group_instances_free(l[i].instances, l[i].n_instances);
        }
        free(l);
}

bool group_state_counts(const char *s)
{
        return s && (streq(s, "InService") || startswith(s, "Pending"));
}

/* The code point of the UTF-8 sequence at *p (advanced past it), or -1. */
static long utf8_next(const unsigned char **p)
{
        const unsigned char *s = *p;
        long c;
        int more;
        if (s[0] < 0x80) {
                *p = s + 1;
                return s[0];
        }
        if ((s[0] & 0xe0) == 0xc0)
                c = s[0] & 0x1f, more = 1;
        else if ((s[0] & 0xf0) == 0xe0)
                c = s[0] & 0x0f, more = 2;
        else if ((s[0] & 0xf8) == 0xf0)
                c = s[0] & 0x07, more = 3;
        else
                return -1;
        for (int i = 1; i <= more; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return -1;
                c = (c << 6) | (s[i] & 0x3f);
        }
        static const long min[] = { 0, 0x80, 0x800, 0x10000 };
        if (c < min[more] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return -1; /* overlong, out of range, a surrogate */
        *p = s + more + 1;
        return c;
}

bool autoscaling_group_name_valid(const char *name)
{
        size_t chars = 0;
        if (!name)
                return false;
        for (const unsigned char *p = (const unsigned char *)name; *p;) {
                long c = utf8_next(&p);
                if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xfffe || c == 0xffff)
                        return false; /* invalid UTF-8 or a control character */
                if (++chars > 255)
                        return false;
        }
        return chars > 0;
}

/* ---- the answer --------------------------------------------------------- */

/* A tag in [p, end): '<' at *lt, its name [name, name+name_len), the
 * byte after its '>'. Declarations (<?…?>, <!…>) come back as special. */
typedef struct Tag {
        const char *lt, *name, *after;
        size_t name_len;
        bool closing, selfclosed, special;
} Tag;

static bool next_tag(const char *p, const char *end, Tag *t)
{
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt || lt + 1 >= end)
                return false;
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt)
                return false;
        const char *q = lt + 1;
        *t = (Tag){ .lt = lt, .after = gt + 1 };
        if (*q == '?' || *q == '!') {
                t->special = true;
                return true;
        }
        t->closing = *q == '/';
        if (t->closing)
                q++;
        t->name = q;
        while (q < gt && !strchr(" \t\r\n/", *q))
                q++;
        t->name_len = (size_t)(q - t->name);
        t->selfclosed = !t->closing && gt[-1] == '/' && gt - 1 > lt + 1;
        return true;
}

static bool tag_is(const Tag *t, const char *name)
{
        return t->name_len == strlen(name) && memcmp(t->name, name, t->name_len) == 0;
}

/* The next element 'name' that is a direct child of the content [p, end):
 * its content [*ret_start, *ret_end) (empty for <name/>) and the byte after
 * it. Elements of any name nest (a group's <member> holds <member>s). */
static bool child(const char *p, const char *end, const char *name, const char **ret_start,
                  const char **ret_end, const char **ret_after)
{
        Tag t;
        size_t depth = 0;
        while (next_tag(p, end, &t)) {
                p = t.after;
                if (t.special || t.selfclosed) {
                        if (depth == 0 && t.selfclosed && tag_is(&t, name)) {
                                *ret_start = *ret_end = t.lt;
                                *ret_after = t.after;
                                return true;
                        }
                        continue;
                }
                if (t.closing) {
                        if (depth == 0)
                                return false; /* the parent's end */
                        depth--;
                        continue;
                }
                if (depth > 0 || !tag_is(&t, name)) {
                        depth++;
                        continue;
                }
                /* found: its end is the close at its own depth */
                Tag u;
                size_t d = 0;
                for (const char *q = t.after; next_tag(q, end, &u); q = u.after) {
                        if (u.special || u.selfclosed)
                                continue;
                        if (!u.closing)
                                d++;
                        else if (d > 0)
                                d--;
                        else if (tag_is(&u, name)) {
                                *ret_start = t.after;
                                *ret_end = u.lt;
                                *ret_after = u.after;
                                return true;
                        } else
                                return false; /* mismatched */
                }
                return false;
        }
        return false;
}

/* The non-empty text of the child <name> of [p, end) (no entities expected
 * in ids and states: anything but [A-Za-z0-9:._-] is refused). */
static char *text_of(const char *p, const char *end, const char *name)
{
        const char *s, *e, *after;
        if (!child(p, end, name, &s, &e, &after) || e == s || e - s > 256)
                return NULL; /* missing, empty or absurd */
        for (const char *q = s; q < e; q++)
                if (!*q || !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:._-", *q))
                        return NULL;
        return xstrndup(s, (size_t)(e - s));
}

/* 'c' (at most 0x10ffff) as UTF-8 in u[]: its length. */
static size_t utf8_encode(unsigned long c, char u[4])
{
        if (c < 0x80) {
                u[0] = (char)c;
                return 1;
        }
        size_t n = c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        static const unsigned char lead[] = { 0, 0, 0xc0, 0xe0, 0xf0 };
        for (size_t i = n - 1; i > 0; i--, c >>= 6)
                u[i] = (char)(0x80 | (c & 0x3f));
        u[0] = (char)(lead[n] | c);
        return n;
}

/* [s, e) with XML's five entities and character references decoded; NULL
 * on anything else ('<', an unknown entity). */
static char *xml_text(const char *s, const char *e)
{
        static const struct {
                const char *name;
                char c;
        } named[] = { { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' } };
        _cleanup_buf_ Buf b = { 0 };
        while (s < e) {
                if (*s == '<' || !*s)
                        return NULL;
                if (*s != '&') {
                        buf_append(&b, s++, 1);
                        continue;
                }
                const char *semi = memchr(s, ';', (size_t)(e - s));
                if (!semi || semi - s > 10)
                        return NULL;
                bool done = false;
                for (size_t i = 0; i < ELEMENTSOF(named) && !done; i++)
                        if ((size_t)(semi - s) == strlen(named[i].name) &&
                            memcmp(s + 1, named[i].name, strlen(named[i].name)) == 0) {
                                buf_append(&b, &named[i].c, 1);
                                done = true;
                        }
                if (!done && s[1] == '#') {
                        char digits[12] = { 0 }, *tail = NULL;
                        bool hex = s[2] == 'x';
                        const char *d = s + (hex ? 3 : 2);
                        if (semi == d || (size_t)(semi - d) >= sizeof(digits))
                                return NULL;
                        memcpy(digits, d, (size_t)(semi - d));
                        unsigned long c = strtoul(digits, &tail, hex ? 16 : 10);
                        if (*tail || !strchr("0123456789abcdefABCDEF", digits[0]) || c == 0 || c > 0x10ffff)
                                return NULL;
                        char u[4];
                        size_t n = utf8_encode((unsigned long)c, u);
                        buf_append(&b, u, n);
                        done = true;
                }
                if (!done)
                        return NULL;
                s = semi + 1;
        }
        return xstrndup(b.data ?: "", b.len);
}

/* One group's <member>: its name and instances. */
static int parse_group(const char *gs, const char *ge, ScalingGroup *ret)
{
        const char *s, *e, *after;
        if (!child(gs, ge, "AutoScalingGroupName", &s, &e, &after))
                return -EBADMSG;
        _cleanup_free_ char *name = xml_text(s, e);
        if (!name || !autoscaling_group_name_valid(name))
                return -EBADMSG;

        GroupInstance *list = NULL;
        size_t n = 0;
        const char *is, *ie;
        if (child(gs, ge, "Instances", &is, &ie, &after)) {
                const char *p = is, *ms, *me;
                while (p < ie && child(p, ie, "member", &ms, &me, &after)) {
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
        *ret = (ScalingGroup){ .name = name, .exists = true, .instances = list, .n_instances = n };
        name = NULL;
        return 0;
}

int autoscaling_parse_describe(const char *body, size_t len, ScalingGroup **ret, size_t *ret_n,
                               char **ret_next_token)
{
        const char *end = body + len, *rs, *re, *s, *e, *after;

        /* the Result is unique in the answer; inside it, direct children only */
        static const char result[] = "<DescribeAutoScalingGroupsResult>";
        const char *open = memmem(body, len, result, sizeof(result) - 1);
        if (!open || !child(open, end, "DescribeAutoScalingGroupsResult", &rs, &re, &after))
                return -EBADMSG;
        if (!child(rs, re, "AutoScalingGroups", &s, &e, &after))
                return -EBADMSG;

        ScalingGroup *list = NULL;
        size_t n = 0;
        const char *p = s, *gs, *ge;
        while (p < e && child(p, e, "member", &gs, &ge, &after)) {
                ScalingGroup g;
                int r = parse_group(gs, ge, &g);
                if (r < 0) {
                        scaling_groups_free(list, n);
                        return r;
                }
                list = xrealloc(list, (n + 1) * sizeof(ScalingGroup));
                list[n++] = g;
                p = after;
        }

        char *token = NULL;
        if (child(rs, re, "NextToken", &s, &e, &after) && e > s) {
                /* opaque: printable ASCII, no markup */
                bool ok = e - s <= NEXT_TOKEN_MAX;
                for (const char *q = s; ok && q < e; q++)
                        ok = *q > 0x20 && *q < 0x7f && *q != '<' && *q != '&';
                if (!ok) {
                        scaling_groups_free(list, n);
                        return -EBADMSG;
                }
                token = xstrndup(s, (size_t)(e - s));
        }
        *ret = list;
        *ret_n = n;
        *ret_next_token = token;
        return 0;
}

/* ---- the call ----------------------------------------------------------- */

static char *explain(const char *code)
{
        if (code && (streq(code, "AccessDenied") || streq(code, "AccessDeniedException") ||
                     streq(code, "UnauthorizedOperation")))
                return xstrdup(
                        "the instance role lacks autoscaling:DescribeAutoScalingGroups (Resource \"*\": "
                        "the action has no resource-level permissions)");
        return aws_explain_common_error(code);
}

/* "group 'a'" or "groups 'a', 'b', …" (for error text; at most ~200 bytes). */
static char *names_text(char *const *names, size_t n)
{
        _cleanup_buf_ Buf b = { 0 };
        buf_printf(&b, "group%s ", n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++) {
                if (b.len > 200) {
                        buf_printf(&b, ", … (%zu in all)", n);
                        break;
                }
                buf_printf(&b, "%s'%s'", i ? ", " : "", names[i]);
        }
        return xstrndup(b.data, b.len);
}

/* One call (all its pages) for names[0..n), n <= DESCRIBE_MAX_NAMES: the
 * groups AWS returned are filled into out[0..n) by name. */
static int describe_batch(const AwsEndpoint *ep, char *const *names, size_t n, ScalingGroup *out, Error *err)
{
        _cleanup_free_ char *token = NULL, *what = names_text(names, n);

        for (int page = 0;; page++) {
                _cleanup_buf_ Buf body = { 0 };
                _cleanup_(aws_refusal_done) AwsRefusal no = { 0 };
                HttpResponse resp = { 0 };
                if (page == DESCRIBE_MAX_PAGES)
                        return error_set(
                                err, -EPROTO,
                                "DescribeAutoScalingGroups for %s: still a NextToken after %d pages", what,
                                DESCRIBE_MAX_PAGES);
                form_append(&body, "Action", "DescribeAutoScalingGroups");
                form_append(&body, "Version", "2011-01-01");
                for (size_t i = 0; i < n; i++) {
                        char key[64];
                        (void)snprintf(key, sizeof(key), "AutoScalingGroupNames.member.%zu", i + 1);
                        form_append(&body, key, names[i]);
                }
                if (token)
                        form_append(&body, "NextToken", token);

                int r = aws_query_post(ep, "autoscaling", &body, DESCRIBE_MAX_BODY, &resp, &no, err);
                if (r < 0) {
                        error_prefix(err, "DescribeAutoScalingGroups for %s", what);
                        return r;
                }
                if (r == AWS_QUERY_REFUSED) {
                        _cleanup_free_ char *explained = explain(no.code);
                        _cleanup_free_ char *text = aws_refusal_text(&no, explained);
                        return error_set(err, -EPROTO, "DescribeAutoScalingGroups for %s failed: %s", what,
                                         text);
                }
                ScalingGroup *got = NULL;
                size_t n_got = 0;
                free(token);
                token = NULL;
                r = autoscaling_parse_describe(resp.body.data ? resp.body.data : "", resp.body.len, &got,
                                               &n_got, &token);
                http_response_done(&resp);
                if (r < 0)
                        return error_set(err, r,
                                         "DescribeAutoScalingGroups for %s: the answer is not a group "
                                         "description",
                                         what);
                for (size_t i = 0; i < n_got; i++)
                        for (size_t k = 0; k < n; k++)
                                if (!out[k].exists && streq(out[k].name, got[i].name)) {
                                        out[k].exists = true;
                                        out[k].instances = got[i].instances;
                                        out[k].n_instances = got[i].n_instances;
                                        got[i].instances = NULL;
                                        got[i].n_instances = 0;
                                        break;
                                }
                scaling_groups_free(got, n_got);
                if (!token)
                        return 0;
        }
}

int autoscaling_describe_groups(const AwsEndpoint *ep, char *const *names, size_t n_names,
                                ScalingGroup **ret, Error *err)
{
        ScalingGroup *out = xcalloc(n_names ? n_names : 1, sizeof(ScalingGroup));
        for (size_t i = 0; i < n_names; i++)
                out[i].name = xstrdup(names[i]);
        for (size_t first = 0; first < n_names; first += DESCRIBE_MAX_NAMES) {
                size_t n = n_names - first < DESCRIBE_MAX_NAMES ? n_names - first : DESCRIBE_MAX_NAMES;
                int r = describe_batch(ep, names + first, n, out + first, err);
                if (r < 0) {
                        scaling_groups_free(out, n_names);
                        return r;
                }
        }
        *ret = out;
        return 0;
}
