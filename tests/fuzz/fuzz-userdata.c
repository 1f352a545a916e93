/* SPDX-License-Identifier: Apache-2.0 */
/* EC2 user-data: "#kong-bootstrap" text or a MIME (multipart) message,
 * and what it yields fed to the config parser as the agent does. */

#include "config.h"
#include "fuzz.h"
#include "userdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        char *copy = fuzz_copy(data, size);
        char *text = NULL, *origin = NULL;
        Error err = { { 0 } };

        int r = userdata_extract(copy, size, &text, &origin, &err);
        FUZZ_ASSERT(r <= 1);
        if (r == 1) {
                FUZZ_ASSERT(text && origin);
                Config *c = NULL;
                if (config_new(&c) < 0)
                        abort();
                if (config_load_text(c, CONFIG_LAYER_USERDATA, text, strlen(text), origin, &err) >= 0)
                        (void)config_validate(c, false, &err);
                config_free(c);
        } else
                FUZZ_ASSERT(!text && !origin);
        free(text);
        free(origin);
        free(copy);
        return 0;
}
