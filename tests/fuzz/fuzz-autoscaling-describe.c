/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeAutoScalingGroups answers (agent/autoscaling-group.c): the
 * instances and lifecycle states of one group, from AWS's XML. */

#include "autoscaling-group.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        char *body = fuzz_copy(data, size);
        GroupInstance *l = NULL;
        size_t n = 0;

        int r = autoscaling_parse_describe(body, size, &l, &n);
        if (r >= 0) {
                for (size_t i = 0; i < n; i++) {
                        /* ids and states reach log lines and SQL parameters:
                         * only [A-Za-z0-9:._-] */
                        FUZZ_ASSERT(l[i].instance_id && *l[i].instance_id);
                        for (const char *p = l[i].instance_id; *p; p++)
                                FUZZ_ASSERT(strchr(
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:._-",
                                        *p));
                        (void)group_state_counts(l[i].lifecycle_state);
                }
                group_instances_free(l, n);
        } else
                FUZZ_ASSERT(r == -EBADMSG || r == -ENOENT);
        free(body);
        return 0;
}
