/* SPDX-License-Identifier: Apache-2.0 */
/* The RDS secret JSON (username, password, host, port, dbname, engine). */

#include "fuzz.h"
#include "secrets.h"
#include "util.h"

static bool is_port(const char *s)
{
        uint16_t p;
        return parse_port(s, &p) >= 0 && p > 0;
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
        char *json = fuzz_copy(data, size);
        DbSecret s = { 0 };
        Error err = { { 0 } };

        if (secrets_parse_rds(json, size, &s, &err) >= 0) {
                FUZZ_ASSERT(!isempty(s.username) && !isempty(s.password));
                FUZZ_ASSERT(!s.port || is_port(s.port));
        } else
                /* The error never quotes the secret. */
                FUZZ_ASSERT(!s.password);
        db_secret_done(&s);
        free(json);
        return 0;
}
