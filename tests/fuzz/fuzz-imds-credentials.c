/* SPDX-License-Identifier: Apache-2.0 */
/* IMDS role credentials (meta-data/iam/security-credentials/<role>). */

#include "fuzz.h"
#include "imds.h"
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
        char *json = fuzz_copy(data, size);
        AwsCredentials creds = { 0 };
        Error err = { { 0 } };

        if (imds_parse_credentials(json, size, &creds, &err) >= 0)
                FUZZ_ASSERT(!isempty(creds.access_key_id) && !isempty(creds.secret_access_key));
        else
                FUZZ_ASSERT(!creds.secret_access_key && !creds.session_token);
        aws_credentials_done(&creds);
        free(json);
        return 0;
}
