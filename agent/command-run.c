/* SPDX-License-Identifier: Apache-2.0 */
#include "command-run.h"

#include <stdio.h>

#include "autoscaling.h"
#include "boot.h"
#include "daemon.h"
#include "fileio.h"
#include "fleet.h"
#include "notify.h"
#include "report.h"
#include "retry.h"
#include "state.h"

/* While a boot waits on something slow (migrations above all), the launch
 * hook's timeout must not run out: RecordLifecycleActionHeartbeat every
 * lifecycle_heartbeat_interval, from retry_waiting(). Until the instance's
 * configuration is known (tags and user-data may name the hook) it does
 * nothing. */
typedef struct Heartbeat {
        Boot *boot;
        usec_t last;
        bool busy;
} Heartbeat;

static void heartbeat_keepalive(void *userdata)
{
        Heartbeat *h = userdata;
        Boot *b = h->boot;
        const char *hook = config_get(b->config, CONF_LIFECYCLE_HOOK);
        usec_t now = now_usec();
        Error err;

        if (h->busy || isempty(hook) || isempty(b->group) || !b->region ||
            now - h->last < config_get_seconds(b->config, CONF_LIFECYCLE_HEARTBEAT_INTERVAL))
                return;
        h->busy = true; /* the call below waits, and waits call us */
        h->last = now;
        int r = boot_record_heartbeat(b, hook, &err);
        if (r < 0)
                log_warning(STAGE_LIFECYCLE, "heartbeat for lifecycle hook '%s' failed: %s", hook, err.msg);
        else if (r == LIFECYCLE_DONE)
                log_info(STAGE_LIFECYCLE, "heartbeat sent for lifecycle hook '%s' (%llu s into the boot)",
                         hook, (unsigned long long)((now - b->started) / USEC_PER_SEC));
        h->busy = false;
}

/* A failed boot: its record, systemd's status line, what outlives the
 * instance (report.c: the console line, CloudFormation's FAILURE), and
 * with a launch hook ABANDON, so that the group replaces this instance,
 * unless on_failure = keep. */
static int fail_boot(Boot *b, Stage s, const Error *err)
{
        int status = boot_fail(b, s, err);
        const char *hook = config_get(b->config, CONF_LIFECYCLE_HOOK);
        Error e;

        report_failed(b, s, status, err);
        if (s == STAGE_LIFECYCLE || isempty(hook) || isempty(b->group) || !b->region ||
            !b->credentials.access_key_id || report_keep_failed_node(b, hook))
                return status;
        if (boot_complete_lifecycle(b, hook, "ABANDON", &e) < 0)
                log_error(STAGE_LIFECYCLE, "cannot abandon lifecycle hook '%s': %s", hook, e.msg);
        return status;
}

/* Rendered, and written to a private staging copy, before migrations:
 * a value (or password) Kong could not read exactly fails the boot before
 * the schema changes, and `kong migrations -c` reads this boot's settings
 * (plugins, pg_schema, pg_timeout, …), not a previous boot's kong.conf. */
static int render_for_kong(Boot *b, Error *err)
{
        int r = boot_render(b, false, err);
        return r < 0 ? r : boot_write_migrations_conf(b, err);
}

static int write_files(Boot *b, Error *err)
{
        return boot_write_files(b, NULL, err);
}

static int complete_launch_hook(Boot *b, Error *err)
{
        const char *hook = config_get(b->config, CONF_LIFECYCLE_HOOK);

        retry_set_keepalive(NULL, NULL); /* no heartbeats for a hook being completed */
        return isempty(hook) ? 0 : boot_complete_lifecycle(b, hook, "CONTINUE", err);
}

/* A kill between creating a temp file and renaming it leaves the temp
 * file; the env file's holds the password. Gone before anything else. */
static void remove_leftovers(const Config *c)
{
        const ConfigKey files[] = { CONF_KONG_ENV_FILE, CONF_KONG_CONF };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                unsigned removed = 0;
                Error e;
                if (remove_stale_temp_files(config_get(c, files[i]), &removed, &e) < 0)
                        log_warning(STAGE_RENDER, "%s", e.msg);
                else if (removed > 0)
                        log_notice(STAGE_RENDER, "removed %u temporary file(s) a killed run left beside %s",
                                   removed, config_get(c, files[i]));
        }
}

int command_run(Config *c, bool oneshot)
{
        static const BootStep steps[] = {
                BOOT_PREPARE_STEPS,
                { STAGE_DATABASE, boot_database },
                /* migrations_finish = after-rollout: the registry, and no
                 * Kong older than the schema (fleet.c) */
                { STAGE_FLEET, fleet_boot_register },
                { STAGE_RENDER, render_for_kong },
                { STAGE_MIGRATIONS, boot_migrations },
                /* Only now the files kong.service reads: the env file last,
                 * whose presence in /run means this boot is complete. */
                { STAGE_RENDER, write_files },
                { STAGE_START, boot_start_kong },
                { STAGE_READY, boot_wait_ready },
                { STAGE_FLEET, fleet_boot_ready },
                { STAGE_LIFECYCLE, complete_launch_hook },
        };
        Boot b = { .config = c, .started = now_usec() };
        Heartbeat heartbeat = { .boot = &b, .last = b.started };
        Error err = { "" };
        Stage failed;
        int status;

        state_open(config_get(c, CONF_STATUS_FILE), b.started);
        remove_leftovers(c);
        retry_set_keepalive(heartbeat_keepalive, &heartbeat);
        if (boot_run_steps(&b, steps, ELEMENTSOF(steps), &failed, &err) < 0) {
                /* The boot gives up: no heartbeat for the hook it abandons,
                 * not even from the waits of ABANDON's own retries. */
                retry_set_keepalive(NULL, NULL);
                status = fail_boot(&b, failed, &err);
        } else {
                report_ready(&b); /* CloudFormation's SUCCESS, before READY=1 */
                usec_t took = now_usec() - b.started;
                log_stage_done(STAGE_BOOT, b.started, "Kong ready; boot complete");
                char ready_status[64];
                (void)snprintf(ready_status, sizeof(ready_status), "Kong ready in %llu.%llu s",
                               (unsigned long long)(took / USEC_PER_SEC),
                               (unsigned long long)(took % USEC_PER_SEC / 100000));
                if (!oneshot)
                        (void)daemon_block_signals(); /* daemon_run() blocks them again, or fails */
                notify_ready(ready_status);
                boot_record_state(BOOT_STATE_READY, STAGE_BOOT, EXIT_OK, NULL);
                status = oneshot ? EXIT_OK : daemon_run(&b);
        }
        retry_set_keepalive(NULL, NULL);
        fleet_node_free(b.fleet);
        boot_done(&b);
        return status;
}
