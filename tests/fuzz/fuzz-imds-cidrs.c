/* SPDX-License-Identifier: Apache-2.0 */
/* IMDS vpc-ipv4-cidr-blocks: newline-separated CIDR blocks, each checked
 * before it goes into kong.conf's trusted_ips. */

#include "config.h"
#include "fuzz.h"
#include "imds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        char *text = fuzz_strndup(data, size);
        char **cidrs = NULL;
        Error err = { { 0 } };

        if (imds_parse_cidrs(text, &cidrs, &err) >= 0) {
                FUZZ_ASSERT(cidrs && cidrs[0]);
                STRV_FOREACH (c, cidrs) {
                        FUZZ_ASSERT(cidr_is_valid(*c));
                        /* Each becomes part of a comma-separated kong.conf value. */
                        FUZZ_ASSERT(!strpbrk(*c, ", #\n\\"));
                }
        } else
                FUZZ_ASSERT(!cidrs);
        strv_free(cidrs);
        free(text);
        return 0;
}
