/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* CloudFormation's SignalResource over the Query API (Version 2010-05-15):
 * what cfn-signal does for a CreationPolicy or an UpdatePolicy with
 * WaitOnResourceSignals, a form-encoded POST signed with SigV4, XML errors
 * turned into sentences. SignalResource carries no reason: a FAILURE is
 * the instance id and the status, the reason stays in the journal and on
 * the serial console. */

#include "awsquery.h"

typedef struct CfnTarget {
        char *stack;      /* name or stack ARN */
        char *logical_id; /* the resource in the template */
} CfnTarget;

void cfn_target_done(CfnTarget *t);

/* "STACK/LogicalId" (config.c validated it): split at the last '/', a
 * stack ARN having '/' of its own. */
int cfn_target_parse(const char *value, CfnTarget *ret, Error *err);

/* status: "SUCCESS" or "FAILURE"; unique_id: the instance id. */
int cloudformation_signal_resource(const AwsEndpoint *ep, const CfnTarget *t, const char *unique_id,
                                   const char *status, Error *err);
