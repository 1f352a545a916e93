/* SPDX-License-Identifier: Apache-2.0 */
/* AWS JSON-protocol error bodies ({"__type": …, "message": …}). */

#include "awserror.h"
#include "fuzz.h"
#include "secrets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        json_install_wiping_hooks();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        char *body = fuzz_copy(data, size);
        char *code = NULL, *message = NULL;

        if (aws_parse_json_error(body, size, &code, &message) >= 0) {
                /* Both end up in log lines: awserror.h promises them sanitized. */
                FUZZ_ASSERT(!code || !strchr(code, ':'));
                for (const char *p = code; p && *p; p++)
                        FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
                for (const char *p = message; p && *p; p++)
                        FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
        } else
                FUZZ_ASSERT(!code && !message);
        free(code);
        free(message);
        free(body);
        return 0;
}
