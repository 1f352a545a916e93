/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* DescribeAutoScalingGroups for the groups the fleet decision looks at:
 * the instances each lists and their lifecycle states. Signed and sent
 * like the lifecycle calls (autoscaling.c: a form-encoded POST, SigV4, the
 * clock corrected from AWS's Date); XML answers. Up to 50 names per call
 * (AWS: "The number of group names that may be passed in is limited to
 * 50"), so one call describes this node's group and every group the
 * registry names, however many there are up to 50. */

#include "awsquery.h"

/* AWS's limit on AutoScalingGroupNames.member.N per call (with the
 * default MaxRecords, 50). */
#define DESCRIBE_MAX_NAMES 50

typedef struct GroupInstance {
        char *instance_id;
        char *lifecycle_state; /* InService, Pending, Pending:Wait, Terminating, … */
        char *zone;
} GroupInstance;

void group_instances_free(GroupInstance *l, size_t n);

/* One group as described. */
typedef struct ScalingGroup {
        char *name;
        bool exists; /* false: AWS did not return it (deleted or never made): it lists nothing */
        GroupInstance *instances;
        size_t n_instances;
} ScalingGroup;

void scaling_groups_free(ScalingGroup *l, size_t n);

/* Whether 'state' is one the fleet must wait for: InService, or a Pending
 * one (Pending, Pending:Wait, Pending:Proceed). */
bool group_state_counts(const char *state);

/* Whether 'name' is a name AWS could give a group and may go into a
 * request: 1–255 characters of UTF-8, no control character. (AWS's
 * pattern also allows tab, CR and LF; we refuse every control character:
 * the names come from registry rows and reach log lines.) */
bool autoscaling_group_name_valid(const char *name);

/* The groups named by 'names' (valid, distinct), *ret in that order, one
 * per name: one DescribeAutoScalingGroups per DESCRIBE_MAX_NAMES names,
 * following NextToken. A name AWS does not return: exists false. Any call
 * that fails fails the whole (negative errno, err names the groups). */
int autoscaling_describe_groups(const AwsEndpoint *ep, char *const *names, size_t n_names,
                                ScalingGroup **ret, Error *err);

/* The groups in a DescribeAutoScalingGroups response body (each exists)
 * and its NextToken (NULL on the last page). Exposed for the unit test
 * and the fuzzer. -EBADMSG: not such a response. */
int autoscaling_parse_describe(const char *body, size_t len, ScalingGroup **ret, size_t *ret_n,
                               char **ret_next_token);
