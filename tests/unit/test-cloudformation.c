/* SPDX-License-Identifier: Apache-2.0 */
#include "cloudformation.h"
#include "test.h"

/* The logical ID is what follows the last '/': a stack ARN has its own. */
static void test_target_parse(void)
{
        Error err = { "" };
        CfnTarget t = { 0 };

        CHECK(cfn_target_parse("kong-prod/KongGroup", &t, &err) == 0);
        CHECK_STREQ(t.stack, "kong-prod");
        CHECK_STREQ(t.logical_id, "KongGroup");
        cfn_target_done(&t);

        CHECK(cfn_target_parse("arn:aws:cloudformation:us-east-1:123456789012:stack/kong-prod/5b2f-11ef/"
                               "AutoScalingGroup",
                               &t, &err) == 0);
        CHECK_STREQ(t.stack, "arn:aws:cloudformation:us-east-1:123456789012:stack/kong-prod/5b2f-11ef");
        CHECK_STREQ(t.logical_id, "AutoScalingGroup");
        cfn_target_done(&t);

        CHECK(cfn_target_parse("kong-prod", &t, &err) < 0);
        CHECK(cfn_target_parse("kong-prod/", &t, &err) < 0);
        CHECK(cfn_target_parse("/KongGroup", &t, &err) < 0);
        CHECK(cfn_target_parse(NULL, &t, &err) < 0);
        CHECK(t.stack == NULL && t.logical_id == NULL);
}

int main(void)
{
        RUN(test_target_parse);
        return TEST_EXIT();
}
