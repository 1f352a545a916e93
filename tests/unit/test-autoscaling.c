/* SPDX-License-Identifier: Apache-2.0 */
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

int main(void)
{
        RUN(test_xml_error);
        RUN(test_form_encoding);
        return TEST_EXIT();
}
