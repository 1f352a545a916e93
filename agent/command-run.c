/* SPDX-License-Identifier: Apache-2.0 */
#include "run.h"

#include <stdio.h>

#include "boot.h"
#include "daemon.h"
#include "notify.h"

/* While a boot waits on something slow (migrations above all), the launch
 * hook's timeout must not run out: RecordLifecycleActionHeartbeat every
 * lifecycle_heartbeat_interval. Runs from notify_extend_timeout(). */
typedef struct Heartbeat {
        Boot *boot;
        usec_t last;
        usec_t interval;
        bool busy;
} Heartbeat;

static void heartbeat_keepalive(void *userdata)
{
        Heartbeat *h = userdata;
        Boot *b = h->boot;
        usec_t now = now_usec();
        Error err;

        if (h->busy || now - h->last < h->interval)
                return;
        h->busy = true; /* the call below waits, and waits call us */
        h->last = now;
        const char *hook = config_get(b->config, CONF_LIFECYCLE_HOOK);
        int r = boot_record_heartbeat(b, hook, &err);
        if (r < 0)
                log_warning(STAGE_LIFECYCLE, "heartbeat for lifecycle hook '%s' failed: %s", hook, err.msg);
        else if (r == 0)
                log_info(STAGE_LIFECYCLE, "heartbeat sent for lifecycle hook '%s' (%llu s into the boot)",
                         hook, (unsigned long long)((now - b->started) / USEC_PER_SEC));
        h->busy = false;
}

/* A failed boot: its record, systemd's status line, and with a launch
 * hook ABANDON, so that the group replaces this instance. */
static int fail_boot(Boot *b, Stage s, const Error *err)
{
        int status = boot_fail(b, s, err);
        const char *hook = config_get(b->config, CONF_LIFECYCLE_HOOK);
        Error e;

        if (s == STAGE_LIFECYCLE || isempty(hook) || isempty(b->group) || !b->region ||
            !b->credentials.access_key_id)
                return status;
        if (boot_complete_lifecycle(b, hook, "ABANDON", &e) < 0)
                log_error(STAGE_LIFECYCLE, "cannot abandon lifecycle hook '%s': %s", hook, e.msg);
        return status;
}

int command_run(Config *c, bool oneshot)
{
        Boot b = { .config = c, .started = now_usec() };
        Heartbeat heartbeat = { .boot = &b };
        Error err = { "" };
        int status = EXIT_OK;

#define STEP(stage, call)                                    \
        do {                                                 \
                if ((call) < 0) {                            \
                        status = fail_boot(&b, stage, &err); \
                        goto out;                            \
                }                                            \
        } while (0)

        STEP(STAGE_IMDS, boot_imds(&b, &err));
        STEP(STAGE_CONFIG, boot_instance_config(&b, &err));
        if (config_is_set(c, CONF_LIFECYCLE_HOOK)) {
                heartbeat.last = now_usec();
                heartbeat.interval = config_get_seconds(c, CONF_LIFECYCLE_HEARTBEAT_INTERVAL);
                notify_set_keepalive(heartbeat_keepalive, &heartbeat);
        }
        STEP(STAGE_SECRETS, boot_secret(&b, &err));
        STEP(STAGE_DATABASE, boot_database(&b, &err));
        STEP(STAGE_RENDER, boot_render(&b, false, &err));
        STEP(STAGE_MIGRATIONS, boot_migrations(&b, &err));
        STEP(STAGE_RENDER, boot_write_files(&b, NULL, &err));
        STEP(STAGE_START, boot_start_kong(&b, &err));
        STEP(STAGE_READY, boot_wait_ready(&b, &err));
        notify_set_keepalive(NULL, NULL);
        if (config_is_set(c, CONF_LIFECYCLE_HOOK))
                STEP(STAGE_LIFECYCLE,
                     boot_complete_lifecycle(&b, config_get(c, CONF_LIFECYCLE_HOOK), "CONTINUE", &err));
#undef STEP

        usec_t took = now_usec() - b.started;
        log_stage_done(STAGE_BOOT, b.started, "Kong ready; boot complete");
        char ready_status[64];
        snprintf(ready_status, sizeof(ready_status), "Kong ready in %llu.%llu s",
                 (unsigned long long)(took / USEC_PER_SEC),
                 (unsigned long long)(took % USEC_PER_SEC / 100000));
        notify_ready(ready_status);
        if (!oneshot)
                status = daemon_run(&b);
out:
        notify_set_keepalive(NULL, NULL);
        boot_done(&b);
        return status;
}
