/* SPDX-License-Identifier: Apache-2.0 */
#include "command-status.h"

#include <stdio.h>
#include <time.h>

#include "json.h"
#include "stage.h"
#include "state.h"

/* --wait reads the file this often: a few small reads a second, and an
 * answer within a quarter second of the agent's. */
#define STATUS_POLL_INTERVAL (250 * USEC_PER_MSEC)

/* What status reports: the recorded state, or what became of it. */
typedef enum Reported {
        REPORTED_BOOTING,
        REPORTED_READY,
        REPORTED_FAILED,
        REPORTED_DRAINING,
        REPORTED_STOPPED,     /* drained, and the agent is gone */
        REPORTED_NOT_RUNNING, /* no file, or its agent is gone mid-boot */
        _REPORTED_MAX,
} Reported;

static const struct {
        const char *name;
        StatusExit exit_status;
} reported[_REPORTED_MAX] = {
        [REPORTED_BOOTING] = { "booting", STATUS_EXIT_BOOTING },
        [REPORTED_READY] = { "ready", STATUS_EXIT_READY },
        [REPORTED_FAILED] = { "failed", STATUS_EXIT_FAILED },
        [REPORTED_DRAINING] = { "draining", STATUS_EXIT_DRAINING },
        [REPORTED_STOPPED] = { "stopped", STATUS_EXIT_DRAINING },
        [REPORTED_NOT_RUNNING] = { "not-running", STATUS_EXIT_NOT_RUNNING },
};

typedef struct View {
        Reported reported;
        bool have_file;
        bool running;
        StateInfo info;
        usec_t elapsed;
} View;

/* -errno with err when the file is there but cannot be read or is not one. */
static int observe(const char *path, View *ret, Error *err)
{
        View v = { .reported = REPORTED_NOT_RUNNING };
        int r = state_read(path, &v.info, err);
        if (r == -ENOENT) {
                *ret = v;
                return 0;
        }
        if (r < 0)
                return r;
        v.have_file = true;
        v.running = state_writer_running(&v.info);
        v.elapsed = v.info.elapsed;
        switch (v.info.state) {
        case BOOT_STATE_READY: v.reported = REPORTED_READY; break;
        case BOOT_STATE_FAILED: v.reported = REPORTED_FAILED; break;
        case BOOT_STATE_BOOTING: v.reported = v.running ? REPORTED_BOOTING : REPORTED_NOT_RUNNING; break;
        case BOOT_STATE_DRAINING: v.reported = v.running ? REPORTED_DRAINING : REPORTED_STOPPED; break;
        default: v.reported = REPORTED_NOT_RUNNING; break;
        }
        /* Still going: the elapsed time is now's, on the boot-wide
         * monotonic clock (a clock step at boot does not bend it). */
        usec_t now = now_usec();
        if (v.running && (v.reported == REPORTED_BOOTING || v.reported == REPORTED_DRAINING) &&
            now > v.info.started)
                v.elapsed = now - v.info.started;
        *ret = v;
        return 0;
}

static char *format_elapsed(usec_t u)
{
        unsigned long long s = u / USEC_PER_SEC, tenths = u % USEC_PER_SEC / 100000;
        if (s < 60)
                return xasprintf("%llu.%llu s", s, tenths);
        if (s < 3600)
                return xasprintf("%llu min %02llu s", s / 60, s % 60);
        return xasprintf("%llu h %02llu min", s / 3600, s % 3600 / 60);
}

/* UTC, ISO 8601 (JSON) or for people. */
static void format_realtime(usec_t u, bool iso, char *buf, size_t size)
{
        time_t t = (time_t)(u / USEC_PER_SEC);
        struct tm tm;
        if (!gmtime_r(&t, &tm) ||
            strftime(buf, size, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                (void)snprintf(buf, size, "?");
}

static void print_text(const View *v, const char *path)
{
        const StateInfo *i = &v->info;
        printf("status: %s\n", reported[v->reported].name);
        if (!v->have_file) {
                printf("no status file %s: kong-bootstrap has not run on this boot (is "
                       "kong-bootstrap.service "
                       "enabled and started?)\n",
                       path);
                return;
        }
        printf("stage: %s\n", i->stage);
        _cleanup_free_ char *elapsed = format_elapsed(v->elapsed);
        char started[64];
        format_realtime(i->started_realtime, false, started, sizeof(started));
        printf("elapsed: %s (boot started %s)\n", elapsed, started);
        if (v->running)
                printf("agent: running (pid %d)\n", (int)i->pid);
        else
                printf("agent: not running (was pid %d)\n", (int)i->pid);
        if (v->reported == REPORTED_FAILED)
                printf("exit status: %d\n", i->exit_status);
        if (v->reported == REPORTED_NOT_RUNNING)
                printf("error: the agent stopped at stage %s without recording an outcome (killed, or "
                       "restarting: see journalctl -u kong-bootstrap)\n",
                       i->stage);
        else if (i->error)
                printf("%s: %s\n", v->reported == REPORTED_FAILED ? "error" : "reason", i->error);
}

static void print_json(const View *v, const char *path)
{
        const StateInfo *i = &v->info;
        cJSON *o = cJSON_CreateObject();
        (void)cJSON_AddStringToObject(o, "status", reported[v->reported].name);
        if (v->have_file) {
                char started[64];
                format_realtime(i->started_realtime, true, started, sizeof(started));
                (void)cJSON_AddStringToObject(o, "stage", i->stage);
                (void)cJSON_AddStringToObject(o, "boot_started", started);
                (void)cJSON_AddNumberToObject(o, "elapsed_seconds",
                                              (double)v->elapsed / (double)USEC_PER_SEC);
                (void)cJSON_AddBoolToObject(o, "agent_running", v->running);
                (void)cJSON_AddNumberToObject(o, "pid", (double)i->pid);
        } else {
                (void)cJSON_AddNullToObject(o, "stage");
                (void)cJSON_AddNullToObject(o, "boot_started");
                (void)cJSON_AddNullToObject(o, "elapsed_seconds");
                (void)cJSON_AddBoolToObject(o, "agent_running", false);
                (void)cJSON_AddNullToObject(o, "pid");
        }
        if (v->have_file && i->exit_status >= 0)
                (void)cJSON_AddNumberToObject(o, "exit_status", i->exit_status);
        else
                (void)cJSON_AddNullToObject(o, "exit_status");
        if (v->have_file && i->error)
                (void)cJSON_AddStringToObject(o, "error", i->error);
        else
                (void)cJSON_AddNullToObject(o, "error");
        (void)cJSON_AddStringToObject(o, "status_file", path);
        char *text = cJSON_Print(o);
        cJSON_Delete(o);
        if (text)
                printf("%s\n", text);
        cJSON_free(text);
}

int command_status(const Config *c, bool wait, bool json)
{
        const char *path = config_get(c, CONF_STATUS_FILE);
        usec_t gone_since = USEC_INFINITY;
        Error err = { "" };
        View v;

        for (;;) {
                if (observe(path, &v, &err) < 0) {
                        fprintf(stderr, "kong-bootstrap: status_file from %s: %s\n",
                                config_source(c, CONF_STATUS_FILE), err.msg);
                        return EXIT_INTERNAL;
                }
                bool pending = v.reported == REPORTED_BOOTING || v.reported == REPORTED_NOT_RUNNING;
                if (!wait || !pending)
                        break;
                usec_t now = now_usec();
                if (v.reported == REPORTED_NOT_RUNNING) {
                        if (gone_since == USEC_INFINITY)
                                gone_since = now;
                        if (now - gone_since >= STATUS_START_GRACE)
                                break;
                } else
                        gone_since = USEC_INFINITY;
                state_info_done(&v.info);
                sleep_usec(STATUS_POLL_INTERVAL);
        }
        if (json)
                print_json(&v, path);
        else
                print_text(&v, path);
        (void)fflush(stdout);
        state_info_done(&v.info);
        return reported[v.reported].exit_status;
}
