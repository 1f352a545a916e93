/* SPDX-License-Identifier: Apache-2.0 */
#include "command-render.h"

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

static int render_exact(Boot *b, Error *err)
{
        return boot_render(b, false, err);
}

static int render_redacted(Boot *b, Error *err)
{
        return boot_render(b, true, err);
}

int command_render(Config *c, bool diff)
{
        /* --diff compares what run would write, byte for byte; the plain
         * output shows each setting's source and hides the password. */
        const BootStep steps[] = {
                BOOT_PREPARE_STEPS,
                { STAGE_RENDER, diff ? render_exact : render_redacted },
        };
        Boot b = { .config = c, .started = now_usec() };
        Error err = { "" };
        Stage failed;
        int status = EXIT_OK;

        if (boot_run_steps(&b, steps, ELEMENTSOF(steps), &failed, &err) < 0)
                status = boot_fail(&b, failed, &err);
        else if (diff) {
                Buf env_old = { 0 };
                bool env_changed = true;
                if (read_file_limited(config_get(c, CONF_KONG_ENV_FILE), 64 * 1024, &env_old, NULL) >= 0)
                        env_changed = !streq(env_old.data, b.env_file.data);
                buf_done(&env_old);
                print_diff(&b, env_changed);
        } else
                printf("# ---- %s ----\n%s\n# ---- %s (mode 0600) ----\n%s", config_get(c, CONF_KONG_CONF),
                       b.kong_conf.data, config_get(c, CONF_KONG_ENV_FILE), b.env_file.data);
        boot_done(&b);
        return status;
}
