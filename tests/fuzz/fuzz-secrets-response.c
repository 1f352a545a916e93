/* SPDX-License-Identifier: Apache-2.0 */
/* A Secrets Manager GetSecretValue response body, and the secret it holds
 * read as the RDS secret JSON, as the agent does. */

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
        SecretValue v = { 0 };
        Error err = { { 0 } };

        if (secrets_parse_response(body, size, &v, &err) >= 0) {
                FUZZ_ASSERT(v.string && v.arn && v.name && v.version_id);
                DbSecret s = { 0 };
                if (secrets_parse_rds(v.string, strlen(v.string), &s, &err) >= 0)
                        FUZZ_ASSERT(s.username && s.password);
                db_secret_done(&s);
        }
        secret_value_done(&v);
        free(body);
        return 0;
}
