/* SPDX-License-Identifier: Apache-2.0 */
#include "autoscaling-group.h"
#include "autoscaling.h"
#include "awserror.h"
#include "test.h"

static void test_xml_error(void)
{
        char *code = NULL, *message = NULL;
        const char *body =
                "<ErrorResponse xmlns=\"https://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
                "  <Error>\n    <Type>Sender</Type>\n    <Code>ValidationError</Code>\n"
                "    <Message>No active Lifecycle Action found with instance ID i-0abc &amp; &lt;x&gt;"
                "</Message>\n  </Error>\n  <RequestId>r-1</RequestId>\n</ErrorResponse>\n";
        CHECK(aws_parse_xml_error(body, strlen(body), &code, &message) == 0);
        CHECK_STREQ(code, "ValidationError");
        CHECK_STREQ(message, "No active Lifecycle Action found with instance ID i-0abc & <x>");
        free(code);
        free(message);

        const char *denied = "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>";
        CHECK(aws_parse_xml_error(denied, strlen(denied), &code, &message) == 0);
        CHECK_STREQ(code, "AccessDenied");
        CHECK(message == NULL);
        free(code);

        CHECK(aws_parse_xml_error("{\"json\":1}", 10, &code, &message) < 0);
        const char *unclosed = "<Error><Code>Thrott";
        CHECK(aws_parse_xml_error(unclosed, strlen(unclosed), &code, &message) == 0);
        CHECK(code == NULL);
        /* Control characters from a peer never reach a log line raw. */
        const char *ctl = "<Error><Code>A\nB</Code></Error>";
        CHECK(aws_parse_xml_error(ctl, strlen(ctl), &code, &message) == 0);
        CHECK_STREQ(code, "A B");
        free(code);
}

static void test_form_encoding(void)
{
        Buf b = { 0 };
        form_append(&b, "Action", "CompleteLifecycleAction");
        form_append(&b, "AutoScalingGroupName", "kong asg/prod+1");
        form_append(&b, "LifecycleHookName", "hook~_.-");
        CHECK_STREQ(b.data, "Action=CompleteLifecycleAction&AutoScalingGroupName=kong%20asg%2Fprod%2B1"
                            "&LifecycleHookName=hook~_.-");
        buf_done(&b);
}

static void test_describe_parse(void)
{
        /* AWS's shape: the group's own <member> holds nested members
         * (AvailabilityZones) before and around Instances. */
        const char *body =
                "<DescribeAutoScalingGroupsResponse "
                "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
                "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>\n"
                "<AutoScalingGroupName>kong</AutoScalingGroupName>\n"
                "<AvailabilityZones><member>us-east-1a</member><member>us-east-1b</member></"
                "AvailabilityZones>\n"
                "<Instances>\n"
                "<member><AvailabilityZone>us-east-1a</AvailabilityZone><InstanceId>i-0aaa</InstanceId>"
                "<LaunchTemplate><LaunchTemplateName>k</LaunchTemplateName></LaunchTemplate>"
                "<LifecycleState>InService</LifecycleState></member>\n"
                "<member><InstanceId>i-0bbb</InstanceId><LifecycleState>Pending:Wait</LifecycleState></"
                "member>\n"
                "</Instances>\n"
                "<TerminationPolicies><member>Default</member></TerminationPolicies>\n"
                "</member></AutoScalingGroups></DescribeAutoScalingGroupsResult>\n"
                "</DescribeAutoScalingGroupsResponse>\n";
        ScalingGroup *g = NULL;
        size_t n = 0;
        char *token = NULL;
        CHECK(autoscaling_parse_describe(body, strlen(body), &g, &n, &token) == 0);
        CHECK(n == 1 && token == NULL);
        CHECK_STREQ(g[0].name, "kong");
        CHECK(g[0].exists);
        CHECK(g[0].n_instances == 2);
        GroupInstance *l = g[0].instances;
        CHECK_STREQ(l[0].instance_id, "i-0aaa");
        CHECK_STREQ(l[0].lifecycle_state, "InService");
        CHECK_STREQ(l[0].zone, "us-east-1a");
        CHECK_STREQ(l[1].instance_id, "i-0bbb");
        CHECK_STREQ(l[1].lifecycle_state, "Pending:Wait");
        CHECK(group_state_counts(l[1].lifecycle_state));
        CHECK(!group_state_counts("Terminating:Wait"));
        CHECK(!group_state_counts("Standby"));
        scaling_groups_free(g, n);

        /* no group (every name unknown): an empty list, not an error */
        const char *none =
                "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
                "<AutoScalingGroups/></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";
        CHECK(autoscaling_parse_describe(none, strlen(none), &g, &n, &token) == 0);
        CHECK(n == 0 && g == NULL && token == NULL);
        const char *empty = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                            "<AutoScalingGroupName>k</AutoScalingGroupName><Instances/></member>"
                            "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(empty, strlen(empty), &g, &n, &token) == 0);
        CHECK(n == 1 && g[0].n_instances == 0);
        scaling_groups_free(g, n);
        const char *bad = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                          "<AutoScalingGroupName>k</AutoScalingGroupName><Instances>"
                          "<member><InstanceId>i-<evil></InstanceId></member></Instances></member>"
                          "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(bad, strlen(bad), &g, &n, &token) == -EBADMSG);
        CHECK(autoscaling_parse_describe("<html/>", 7, &g, &n, &token) == -EBADMSG);
        /* found by the fuzzer: an empty id is no instance */
        const char *empty_id = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                               "<AutoScalingGroupName>k</AutoScalingGroupName><Instances>"
                               "<member><InstanceId></InstanceId></member></Instances></member>"
                               "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(empty_id, strlen(empty_id), &g, &n, &token) == -EBADMSG);
        /* a group without its name cannot be matched to the question */
        const char *nameless = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member><Instances/>"
                               "</member></AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(nameless, strlen(nameless), &g, &n, &token) == -EBADMSG);
}

/* Several groups in one answer: each group's instances stay its own
 * (the old parser took everything up to the last </member> as one group),
 * names are XML-decoded, NextToken is returned. */
static void test_describe_parse_groups(void)
{
        const char *body =
                "<?xml version=\"1.0\"?>\n"
                "<DescribeAutoScalingGroupsResponse "
                "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
                "<DescribeAutoScalingGroupsResult><AutoScalingGroups>"
                "<member><AutoScalingGroupName>kong-green</AutoScalingGroupName>"
                "<AvailabilityZones><member>us-east-1a</member></AvailabilityZones><Instances>"
                "<member><InstanceId>i-0g1</InstanceId><LifecycleState>InService</LifecycleState></member>"
                "</Instances><Tags><member><Key>a</Key><Value>b</Value></member></Tags></member>\n"
                "<member><AutoScalingGroupName>kong &amp; "
                "&#x62;lue&lt;1&gt;</AutoScalingGroupName><Instances>"
                "<member><InstanceId>i-0b1</InstanceId><LifecycleState>InService</LifecycleState></member>"
                "<member><InstanceId>i-0b2</InstanceId><LifecycleState>Terminating</LifecycleState></member>"
                "</Instances></member>\n"
                "<member><AutoScalingGroupName>kong-empty</AutoScalingGroupName><Instances/></member>"
                "</AutoScalingGroups><NextToken>b3BhcXVl/+=</NextToken></DescribeAutoScalingGroupsResult>"
                "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                "</DescribeAutoScalingGroupsResponse>";
        ScalingGroup *g = NULL;
        size_t n = 0;
        char *token = NULL;
        CHECK(autoscaling_parse_describe(body, strlen(body), &g, &n, &token) == 0);
        CHECK(n == 3);
        if (n == 3) {
                CHECK_STREQ(g[0].name, "kong-green");
                CHECK(g[0].n_instances == 1);
                CHECK_STREQ(g[0].instances[0].instance_id, "i-0g1");
                CHECK_STREQ(g[1].name, "kong & blue<1>");
                CHECK(g[1].n_instances == 2);
                CHECK_STREQ(g[1].instances[1].instance_id, "i-0b2");
                CHECK_STREQ(g[1].instances[1].lifecycle_state, "Terminating");
                CHECK_STREQ(g[2].name, "kong-empty");
                CHECK(g[2].n_instances == 0);
        }
        CHECK_STREQ(token, "b3BhcXVl/+=");
        free(token);
        scaling_groups_free(g, n);

        /* character references: UTF-8 of 2, 3 and 4 bytes */
        const char *refs =
                "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                "<AutoScalingGroupName>caf&#233;-&#x20AC;-&#x1F600;</AutoScalingGroupName></member>"
                "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(refs, strlen(refs), &g, &n, &token) == 0);
        CHECK(n == 1);
        CHECK_STREQ(g[0].name, "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80");
        scaling_groups_free(g, n);
        /* a name with a control character, or an unknown entity: not an answer */
        const char *ctl = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                          "<AutoScalingGroupName>a&#10;b</AutoScalingGroupName></member>"
                          "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(ctl, strlen(ctl), &g, &n, &token) == -EBADMSG);
        const char *ent = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                          "<AutoScalingGroupName>a&nbsp;b</AutoScalingGroupName></member>"
                          "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(ent, strlen(ent), &g, &n, &token) == -EBADMSG);
        /* a group's member left open: not an answer (never "no such group") */
        const char *open = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                           "<AutoScalingGroupName>a</AutoScalingGroupName><Instances><member>"
                           "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(open, strlen(open), &g, &n, &token) == -EBADMSG);
}

static void test_group_name_valid(void)
{
        char max[256], over[257];
        memset(max, 'a', 255);
        max[255] = 0;
        memset(over, 'a', 256);
        over[256] = 0;
        CHECK(autoscaling_group_name_valid("kong-blue"));
        CHECK(autoscaling_group_name_valid("kong blue/prod+1 (2026)"));
        CHECK(autoscaling_group_name_valid(max));
        CHECK(!autoscaling_group_name_valid(over));
        CHECK(!autoscaling_group_name_valid(""));
        CHECK(!autoscaling_group_name_valid(NULL));
        CHECK(!autoscaling_group_name_valid("a\nb"));
        CHECK(!autoscaling_group_name_valid("a\tb"));
        CHECK(!autoscaling_group_name_valid("a\x7f"));
        CHECK(!autoscaling_group_name_valid("a\xc2\x85"));     /* U+0085, a C1 control */
        CHECK(!autoscaling_group_name_valid("a\xff"));         /* not UTF-8 */
        CHECK(!autoscaling_group_name_valid("a\xc0\xaf"));     /* overlong */
        CHECK(!autoscaling_group_name_valid("a\xed\xa0\x80")); /* a surrogate */
        /* 255 characters, not bytes */
        char wide[255 * 2 + 1];
        for (int i = 0; i < 255; i++)
                memcpy(wide + 2 * i, "\xc3\xa9", 2);
        wide[510] = 0;
        CHECK(autoscaling_group_name_valid(wide));
}

int main(void)
{
        RUN(test_describe_parse);
        RUN(test_describe_parse_groups);
        RUN(test_group_name_valid);
        RUN(test_xml_error);
        RUN(test_form_encoding);
        return TEST_EXIT();
}
