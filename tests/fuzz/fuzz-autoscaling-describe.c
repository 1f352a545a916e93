/* SPDX-License-Identifier: Apache-2.0 */
/* DescribeAutoScalingGroups answers (agent/autoscaling-group.c): the
 * groups, their instances and lifecycle states, and NextToken, from AWS's
 * XML. */

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
        ScalingGroup *g = NULL;
        size_t n = 0;
        char *token = NULL;

        int r = autoscaling_parse_describe(body, size, &g, &n, &token);
        if (r >= 0) {
                for (size_t k = 0; k < n; k++) {
                        /* names go back into requests and log lines */
                        FUZZ_ASSERT(g[k].exists && autoscaling_group_name_valid(g[k].name));
                        for (size_t i = 0; i < g[k].n_instances; i++) {
                                const GroupInstance *l = &g[k].instances[i];
                                /* ids and states reach log lines and SQL parameters:
                                 * only [A-Za-z0-9:._-] */
                                FUZZ_ASSERT(l->instance_id && *l->instance_id);
                                for (const char *p = l->instance_id; *p; p++)
                                        FUZZ_ASSERT(strchr(
                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0"
                                                "123456789:._-",
                                                *p));
                                (void)group_state_counts(l->lifecycle_state);
                        }
                }
                if (token) /* goes back into a form: printable, no markup */
                        for (const char *p = token; *p; p++)
                                FUZZ_ASSERT(*p > 0x20 && *p < 0x7f && *p != '<' && *p != '&');
                free(token);
                scaling_groups_free(g, n);
        } else
                FUZZ_ASSERT(r == -EBADMSG);
        free(body);
        return 0;
}
