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
        GroupInstance *l = NULL;
        size_t n = 0;
        CHECK(autoscaling_parse_describe(body, strlen(body), &l, &n) == 0);
        CHECK(n == 2);
        CHECK_STREQ(l[0].instance_id, "i-0aaa");
        CHECK_STREQ(l[0].lifecycle_state, "InService");
        CHECK_STREQ(l[0].zone, "us-east-1a");
        CHECK_STREQ(l[1].instance_id, "i-0bbb");
        CHECK_STREQ(l[1].lifecycle_state, "Pending:Wait");
        CHECK(group_state_counts(l[1].lifecycle_state));
        CHECK(!group_state_counts("Terminating:Wait"));
        CHECK(!group_state_counts("Standby"));
        group_instances_free(l, n);

        const char *none =
                "<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
                "<AutoScalingGroups/></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";
        CHECK(autoscaling_parse_describe(none, strlen(none), &l, &n) == -ENOENT);
        const char *empty = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
                            "<AutoScalingGroupName>k</AutoScalingGroupName><Instances/></member>"
                            "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(empty, strlen(empty), &l, &n) == 0);
        CHECK(n == 0);
        free(l);
        const char *bad = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member><Instances>"
                          "<member><InstanceId>i-<evil></InstanceId></member></Instances></member>"
                          "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(bad, strlen(bad), &l, &n) == -EBADMSG);
        CHECK(autoscaling_parse_describe("<html/>", 7, &l, &n) == -EBADMSG);
        /* found by the fuzzer: an empty id is no instance */
        const char *empty_id = "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member><Instances>"
                               "<member><InstanceId></InstanceId></member></Instances></member>"
                               "</AutoScalingGroups></DescribeAutoScalingGroupsResult>";
        CHECK(autoscaling_parse_describe(empty_id, strlen(empty_id), &l, &n) == -EBADMSG);
}

int main(void)
{
        RUN(test_describe_parse);
        RUN(test_xml_error);
        RUN(test_form_encoding);
        return TEST_EXIT();
}
