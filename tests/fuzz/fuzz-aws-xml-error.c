/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Query-API XML error bodies (Auto Scaling:
 * <ErrorResponse><Error><Code/><Message/></Error>), and the parser that
 * takes either form. */

#include "awserror.h"
#include "fuzz.h"
#include "secrets.h"

static void check_printable(const char *s)
{
        for (const char *p = s; p && *p; p++)
                FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
}

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

        /* Both end up in log lines. */
        if (aws_parse_xml_error(body, size, &code, &message) >= 0) {
                check_printable(code);
                check_printable(message);
        } else
                FUZZ_ASSERT(!code && !message);
        free(code);
        free(message);
        code = message = NULL;
        aws_parse_error(body, size, &code, &message);
        check_printable(code);
        check_printable(message);
        free(code);
        free(message);
        free(body);
        return 0;
}
