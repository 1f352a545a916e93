/* SPDX-License-Identifier: Apache-2.0 */
#include "run.h"

#include <stdio.h>

#include "boot.h"
#include "fileio.h"
#include "render.h"

static void print_diff(const Boot *b, bool env_would_change)
{
        const char *path = config_get(b->config, CONF_KONG_CONF);
        Buf old = { 0 };
        Error e;

        if (read_file_limited(path, 4 * 1024 * 1024, &old, &e) < 0)
                printf("# %s: would be created\n%s", path, b->kong_conf.data);
        else if (streq(old.data, b->kong_conf.data))
                printf("# %s: unchanged\n", path);
        else {
                _cleanup_free_ char *d = render_diff(old.data, b->kong_conf.data);
                printf("# %s: would change\n%s", path, d);
        }
        buf_done(&old);
        printf("# %s: %s (content not shown: it holds the password)\n",
               config_get(b->config, CONF_KONG_ENV_FILE), env_would_change ? "would change" : "unchanged");
}

int command_render(Config *c, bool diff)
{
        Boot b = { .config = c, .started = now_usec() };
        Error err = { "" };
        int status = EXIT_OK;

        if (boot_imds(&b, &err) < 0)
                status = boot_fail(&b, STAGE_IMDS, &err);
        else if (boot_instance_config(&b, &err) < 0)
                status = boot_fail(&b, STAGE_CONFIG, &err);
        else if (boot_secret(&b, &err) < 0)
                status = boot_fail(&b, STAGE_SECRETS, &err);
        else if (diff) {
                /* Compare what run would write, byte for byte. */
                Buf env_real = { 0 }, env_old = { 0 };
                bool env_changed = true;
                if (boot_render(&b, false, &err) < 0)
                        status = boot_fail(&b, STAGE_RENDER, &err);
                else {
                        env_real = b.env_file;
                        b.env_file = (Buf){ 0 };
                        if (read_file_limited(config_get(c, CONF_KONG_ENV_FILE), 64 * 1024, &env_old,
                                              NULL) >= 0)
                                env_changed = !streq(env_old.data, env_real.data);
                        print_diff(&b, env_changed);
                }
                buf_done(&env_real);
                buf_done(&env_old);
        } else if (boot_render(&b, true, &err) < 0)
                status = boot_fail(&b, STAGE_RENDER, &err);
        else
                printf("# ---- %s ----\n%s\n# ---- %s (mode 0600) ----\n%s", config_get(c, CONF_KONG_CONF),
                       b.kong_conf.data, config_get(c, CONF_KONG_ENV_FILE), b.env_file.data);
        boot_done(&b);
        return status;
}
