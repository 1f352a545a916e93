/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Auto Scaling lifecycle hooks over the Query API: a form-encoded POST
 * signed with SigV4 (no query string: FIELD-NOTES, "SigV4 with libcurl"),
 * XML errors turned into sentences. */

#include "awsquery.h"

typedef struct LifecycleAction {
        const char *group;
        const char *hook;
        const char *instance_id;
} LifecycleAction;

typedef enum LifecycleOutcome {
        LIFECYCLE_DONE = 0,
        /* AWS has no active lifecycle action for the instance: not an
         * error (the hook timed out, was completed already, or the instance
         * was not launched through it). */
        LIFECYCLE_NO_ACTIVE_ACTION = 1,
} LifecycleOutcome;

/* result: "CONTINUE" or "ABANDON". A LifecycleOutcome, or negative with
 * err. */
int autoscaling_complete_lifecycle_action(const AwsEndpoint *ep, const LifecycleAction *a,
                                          const char *result, Error *err);
/* The same outcomes. */
int autoscaling_record_heartbeat(const AwsEndpoint *ep, const LifecycleAction *a, Error *err);
