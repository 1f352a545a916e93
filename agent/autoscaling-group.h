/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* DescribeAutoScalingGroups for one group: the instances it lists and
 * their lifecycle states. Signed and sent like the lifecycle calls
 * (autoscaling.c: a form-encoded POST, SigV4, the clock corrected from
 * AWS's Date); XML answers. */

#include "awsquery.h"

typedef struct GroupInstance {
        char *instance_id;
        char *lifecycle_state; /* InService, Pending, Pending:Wait, Terminating, … */
        char *zone;
} GroupInstance;

void group_instances_free(GroupInstance *l, size_t n);

/* Whether 'state' is one the fleet must wait for: InService, or a Pending
 * one (Pending, Pending:Wait, Pending:Proceed). */
bool group_state_counts(const char *state);

/* The instances of 'group'. -ENOENT when AWS has no such group. */
int autoscaling_describe_group(const AwsEndpoint *ep, const char *group, GroupInstance **ret, size_t *ret_n,
                               Error *err);

/* The instances listed in a DescribeAutoScalingGroups response body for
 * one group (exposed for the unit test and the fuzzer). -ENOENT: no group
 * in it; -EBADMSG: not such a response. */
int autoscaling_parse_describe(const char *body, size_t len, GroupInstance **ret, size_t *ret_n);
