/* SPDX-License-Identifier: Apache-2.0 */
/* The kong.conf-style config parser, as a file and as instance user-data
 * (which may not set every key), then the type checks. */

#include "config.h"
#include "fuzz.h"

static void load(ConfigLayer layer, const char *text, size_t len, const char *origin)
{
        Config *c = NULL;
        Error err = { { 0 } };

        if (config_new(&c) < 0)
                abort();
        if (config_load_text(c, layer, text, len, origin, &err) >= 0) {
                (void)config_validate(c, false, &err);
                (void)config_validate(c, true, &err);
                for (ConfigKey k = 0; k < _CONF_MAX; k++) {
                        FUZZ_ASSERT(config_get(c, k));
                        FUZZ_ASSERT(config_source(c, k));
                }
        }
        /* Messages are printed to the journal and a terminal. */
        FUZZ_ASSERT(memchr(err.msg, '\0', sizeof(err.msg)));
        config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > FUZZ_MAX_INPUT)
                return 0;
        char *text = fuzz_copy(data, size);
        load(CONFIG_LAYER_FILE, text, size, "/etc/kong-bootstrap/conf.d/fuzz.conf");
        load(CONFIG_LAYER_USERDATA, text, size, "user-data");
        free(text);
        return 0;
}
