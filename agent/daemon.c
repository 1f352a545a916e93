/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The day after boot: one sd-event loop, idle between two timers.
 *
 * - termination watch (every 5 s, AWS's advice): IMDS
 *   autoscaling/target-lifecycle-state = Terminated, or a spot
 *   instance-action notice → drain;
 * - rotation watch (rotation_interval, jittered): the secret's VersionId;
 *   a new version is tried against Postgres before anything changes, then
 *   the env file is rewritten and Kong's unit reloaded;
 * - SIGTERM: during a system shutdown, drain, then exit and let systemd
 *   stop Kong after us (the unit is ordered After=kong.service); for a
 *   mere `systemctl stop/restart kong-bootstrap`, leave Kong alone;
 * - the watchdog (WatchdogSec=) is fed by the loop, and by every slow wait.
 *
 * The loop runs one callback at a time, and a rotation check can wait for
 * minutes (GetSecretValue, a database login, Kong's reload job). So the
 * termination watch also runs from inside those waits: the interrupt hook
 * (retry.h), asked at least every second by every slow wait, reads IMDS
 * when the watch is due; once it sees a termination notice (or a SIGTERM
 * is pending) every wait ends, the rotation check is abandoned (files are
 * written atomically, so none is half-written) and the drain starts. A
 * notice is thus seen within one watch interval plus a second, whatever
 * the rotation check is doing.
 *
 * Draining: POST {"status":"draining"} to /status/ready (what `kong drain`
 * does), so the load balancer's health check fails and it stops sending
 * traffic; wait drain_timeout; on a termination notice, stop Kong's unit
 * (ExecStop sends SIGQUIT: graceful) and complete
 * termination_lifecycle_hook with CONTINUE.
 */
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "daemon.h"
#include "fleet.h"
#include "log.h"
#include "notify.h"
#include "ready.h"
#include "render.h"
#include "retry.h"
#include "systemd.h"

#define TERMINATION_WATCH_INTERVAL (5 * USEC_PER_SEC)
#define ROTATION_RETRY_INTERVAL    (30 * USEC_PER_SEC)
#define DAEMON_AWS_TIMEOUT         (30 * USEC_PER_SEC)
#define UNIT_JOB_TIMEOUT           (120 * USEC_PER_SEC)

typedef struct Daemon {
        Boot *boot;
        sd_event *event;
        sd_event_source *termination;
        sd_event_source *rotation;
        sd_event_source *drain_timer;
        sd_event_source *fleet; /* migrations_finish = after-rollout (fleet.c) */
        usec_t drain_started;
        bool draining;
        bool stop_kong_after_drain; /* false at shutdown: systemd stops Kong after us */
        bool imds_warned;
        bool reload_pending;   /* files changed, Kong not reloaded yet */
        bool probing;          /* reading IMDS for a termination notice */
        usec_t probe_due;      /* when the termination watch is due next */
        char *termination_why; /* a notice seen from inside a slow wait */
        int exit_status;
} Daemon;

static void watchdog_ping(void *userdata)
{
        (void)sd_notify(0, "WATCHDOG=1");
}

static usec_t jittered(usec_t interval)
{
        /* ±10 %: a fleet booted together does not call AWS together. */
        usec_t spread = interval / 5;
        return interval - interval / 10 + (spread ? random_below(spread) : 0);
}

int daemon_rearm(sd_event_source *s, usec_t in, const char *watch)
{
        int r = sd_event_source_set_time_relative(s, in);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0) {
                /* A watch that stopped would leave the node running blind
                 * (no drain before termination, no rotation): fail the unit
                 * instead, and systemd starts us afresh. */
                log_error(STAGE_BOOT, "cannot re-arm the %s watch: %s; exiting so that systemd restarts us",
                          watch, strerror(-r));
                (void)sd_event_exit(sd_event_source_get_event(s), EXIT_INTERNAL);
        }
        return r;
}

/* ---- drain --------------------------------------------------------------- */

static void finish_drain(Daemon *d)
{
        Boot *b = d->boot;
        const char *unit = config_get(b->config, CONF_KONG_UNIT);
        const char *hook = config_get(b->config, CONF_TERMINATION_LIFECYCLE_HOOK);
        usec_t started = now_usec();
        Error err;

        notify_status("stopping %s", unit);
        if (systemd_stop_unit(unit, UNIT_JOB_TIMEOUT, &err) < 0) {
                log_error(STAGE_DRAIN, "%s", err.msg);
                d->exit_status = EXIT_SYSTEMD;
        } else
                log_stage_done(STAGE_DRAIN, started, "%s stopped after draining", unit);
        fleet_leave(b);
        if (!isempty(hook) && boot_complete_lifecycle(b, hook, "CONTINUE", &err) < 0) {
                log_error(STAGE_LIFECYCLE, "cannot complete termination hook '%s': %s", hook, err.msg);
                d->exit_status = EXIT_LIFECYCLE;
        }
        (void)sd_event_exit(d->event, d->exit_status);
}

static int on_drain_done(sd_event_source *s, uint64_t usec, void *userdata)
{
        Daemon *d = userdata;

        if (d->stop_kong_after_drain) {
                finish_drain(d);
                return 0;
        }
        /* Shutdown: kong-bootstrap.service is ordered After=kong.service, so
         * systemd stops Kong (ExecStop: SIGQUIT, graceful) once we exit. A
         * stop job queued from here would wait behind our own stop. */
        log_stage_done(STAGE_DRAIN, d->drain_started, "Kong drained; systemd stops it after us");
        fleet_leave(d->boot);
        (void)sd_event_exit(d->event, d->exit_status);
        return 0;
}

/* Makes /status/ready answer 503 from now on, like `kong drain`. */
static int kong_set_draining(const Config *c, Error *err)
{
        _cleanup_free_ char *url = NULL;
        char *headers[] = { "Content-Type: application/json", NULL };
        static const char body[] = "{\"status\":\"draining\"}";
        HttpResponse resp = { 0 };

        int r = ready_url_from_listen(config_get(c, CONF_STATUS_LISTEN), &url, err);
        if (r < 0)
                return r;
        HttpRequest req = {
                .method = "POST",
                .url = url,
                .headers = headers,
                .body = body,
                .body_len = strlen(body),
                .timeout = 2 * USEC_PER_SEC,
                .max_body = 16 * 1024,
                .no_proxy = true,
                .tls_no_verify = ready_url_is_own_loopback_tls(url),
        };
        r = http_perform(&req, &resp, err);
        if (r < 0)
                return r;
        long status = resp.status;
        http_response_done(&resp);
        if (status != 204 && status != 200)
                return error_set(
                        err, -EPROTO,
                        "POST %s answered HTTP %ld: this Kong cannot drain (Kong >= 3.9 can); the load "
                        "balancer notices when Kong stops",
                        url, status);
        return 0;
}

static void start_drain(Daemon *d, const char *why, bool stop_kong)
{
        const Config *c = d->boot->config;
        usec_t wait = config_get_seconds(c, CONF_DRAIN_TIMEOUT);
        Error err;

        if (d->draining)
                return;
        d->draining = true;
        d->stop_kong_after_drain = stop_kong;
        d->drain_started = now_usec();
        (void)sd_event_source_set_enabled(d->termination, SD_EVENT_OFF);
        (void)sd_event_source_set_enabled(d->rotation, SD_EVENT_OFF);
        (void)sd_event_source_set_enabled(d->fleet, SD_EVENT_OFF);
        notify_stopping();
        notify_status("draining: %s", why);
        boot_record_state(BOOT_STATE_DRAINING, STAGE_DRAIN, -1, why);
        log_notice(STAGE_DRAIN, "%s: draining Kong for %llu s, then stopping it", why,
                   (unsigned long long)(wait / USEC_PER_SEC));
        if (kong_set_draining(c, &err) < 0)
                log_warning(STAGE_DRAIN, "%s", err.msg);
        else
                log_info(STAGE_DRAIN,
                         "/status/ready now answers 503; the load balancer stops sending traffic");
        /* systemd waits for us while we drain (TimeoutStopSec=). */
        retry_waiting(wait + UNIT_JOB_TIMEOUT);
        if (sd_event_add_time_relative(d->event, &d->drain_timer, CLOCK_MONOTONIC, wait, 0, on_drain_done,
                                       d) < 0) {
                finish_drain(d);
                return;
        }
        /* After the load balancer was told, and within the drain: on a
         * database that went mute this waits for its deadline. */
        fleet_draining(d->boot);
}

/* ---- termination watch --------------------------------------------------- */

/* Reads IMDS for a termination notice: why it is coming, or NULL. */
static char *termination_probe(Daemon *d)
{
        Boot *b = d->boot;
        _cleanup_free_ char *state = NULL, *spot = NULL;
        Error err;

        d->probing = true;
        d->probe_due = now_usec() + TERMINATION_WATCH_INTERVAL;
        int r = imds_get(b->imds, "meta-data/autoscaling/target-lifecycle-state", &state, &err);
        if (r >= 0 && streq(strip(state), "Terminated")) {
                d->probing = false;
                return xstrdup("the Auto Scaling group is terminating this instance");
        }
        if (r < 0 && r != -ENOENT && !d->imds_warned) {
                log_warning(STAGE_DRAIN, "cannot watch for termination: %s", err.msg);
                d->imds_warned = true;
        }
        r = imds_get(b->imds, "meta-data/spot/instance-action", &spot, &err);
        d->probing = false;
        if (r >= 0) {
                _cleanup_free_ char *shown = sanitize_for_log(strip(spot), 200);
                return xasprintf("spot instance interruption notice %s", shown);
        }
        if (r != -ENOENT && !d->imds_warned) {
                log_warning(STAGE_DRAIN, "cannot watch for spot notices: %s", err.msg);
                d->imds_warned = true;
        }
        return NULL;
}

static int on_termination_check(sd_event_source *s, uint64_t usec, void *userdata)
{
        Daemon *d = userdata;
        _cleanup_free_ char *why = termination_probe(d);

        if (why) {
                start_drain(d, why, true);
                return 0;
        }
        (void)daemon_rearm(s, TERMINATION_WATCH_INTERVAL, "termination");
        return 0;
}

static bool sigterm_pending(void)
{
        sigset_t pending;
        return sigpending(&pending) >= 0 &&
               (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* The interrupt hook (retry.h): true when the work in progress must give
 * way to a drain. Reads IMDS when the watch is due. */
static bool termination_interrupts(void *userdata)
{
        Daemon *d = userdata;

        if (d->draining || d->probing)
                return false;
        if (!d->termination_why && now_usec() >= d->probe_due)
                d->termination_why = termination_probe(d);
        return d->termination_why || sigterm_pending();
}

/* True when the waits of the work in progress were interrupted: its
 * failure is no failure to report. */
static bool interrupted(const Daemon *d)
{
        return d->termination_why || sigterm_pending();
}

/* After a callback whose waits the hook interrupted for a notice: the
 * drain. (For a pending SIGTERM the loop's next event is on_sigterm.) */
static bool abandoned_for_termination(Daemon *d, Stage stage, const char *work)
{
        if (!d->termination_why)
                return false;
        log_notice(stage, "%s abandoned: %s", work, d->termination_why);
        start_drain(d, d->termination_why, true);
        return true;
}

/* ---- rotation watch ------------------------------------------------------ */

static int reload_kong(Daemon *d, Error *err)
{
        if (!d->reload_pending)
                return 0;
        int r = systemd_reload_unit(config_get(d->boot->config, CONF_KONG_UNIT), UNIT_JOB_TIMEOUT, err);
        if (r >= 0)
                d->reload_pending = false;
        return r;
}

/* A new version of the database secret: usable, carried exactly to Kong's
 * workers, and taken by Postgres before Kong depends on it. Then it moves
 * into 'rot'; otherwise the agent says why and keeps the current one,
 * asked again at the next check (sooner when Postgres may only be slow to
 * take it). A negative return is the failed login (see interrupted()). */
static int prove_new_secret(Daemon *d, SecretValue *fresh, Rotation *rot, usec_t *next)
{
        Boot *b = d->boot;
        DbSecret secret = { 0 };
        DbParams db = { 0 };
        PGconn *conn = NULL;
        Error err;
        int r;

        log_info(STAGE_ROTATION, "secret %s moved from version %s to %s", fresh->arn, b->secret.version_id,
                 fresh->version_id);
        r = secrets_parse_rds(fresh->string, strlen(fresh->string), &secret, &err);
        if (r >= 0)
                r = db_params_resolve(&secret, b->config, &db, &err);
        db_secret_done(&secret);
        if (r < 0) {
                log_error(STAGE_ROTATION, "the new secret version is unusable, keeping the current one: %s",
                          err.msg);
                return 0;
        }
        /* A password Kong's workers would read differently is refused
         * before it reaches Postgres or the files; asked again at the next
         * interval (a fixed secret gets a new version). */
        const char *problem = kong_env_value_problem(db.password);
        if (problem) {
                log_error(STAGE_ROTATION,
                          "secret %s version %s: its password cannot reach Kong's workers exactly: %s. "
                          "Keeping the current password and files; rotate the secret to a password "
                          "without this (ExcludeCharacters with '\\', IncludeSpace off; see "
                          "docs/operations.md, \"Passwords Kong carries exactly\")",
                          fresh->arn, fresh->version_id, problem);
                db_params_done(&db);
                return 0;
        }
        r = db_wait(&db, 0, &conn, NULL, &err);
        PQfinish(conn);
        if (r < 0) {
                if (!interrupted(d))
                        log_warning(
                                STAGE_ROTATION,
                                "Postgres does not take the new credentials yet (%s); keeping the current "
                                "config, trying again in %llu s",
                                err.msg, (unsigned long long)(ROTATION_RETRY_INTERVAL / USEC_PER_SEC));
                *next = ROTATION_RETRY_INTERVAL;
                db_params_done(&db);
                return r;
        }
        rot->secret = *fresh;
        *fresh = (SecretValue){ 0 };
        rot->db = db;
        return 0;
}

/* One check: the database secret, then Kong's other secrets; whatever
 * moved is written in one rewrite of both files and applied with one
 * reload. A mapping of the database secret moves with the password only:
 * while a new password is unproven, Kong keeps the current one everywhere. */
static int on_rotation_check(sd_event_source *s, uint64_t usec, void *userdata)
{
        Daemon *d = userdata;
        Boot *b = d->boot;
        const Config *c = b->config;
        usec_t started = now_usec(), next = jittered(config_get_seconds(c, CONF_ROTATION_INTERVAL));
        SecretValue fresh = { 0 };
        Rotation rot = { 0 };
        bool changed = false;
        Error err;
        int r;

        /* The database secret first: a kong_secret.* mapping of the same
         * secret takes this read (one GetSecretValue per secret per check). */
        r = boot_fetch_secret(b, DAEMON_AWS_TIMEOUT, &fresh, &err);
        if (r < 0 && interrupted(d))
                goto out;
        if (r < 0)
                log_warning(STAGE_ROTATION, "cannot check the secret for rotation: %s", err.msg);
        else if (streq(fresh.version_id, b->secret.version_id))
                log_debug(STAGE_ROTATION, "secret version %s unchanged", fresh.version_id);
        else if (prove_new_secret(d, &fresh, &rot, &next) < 0 && interrupted(d))
                goto out;
        bool db_moved = rot.secret.version_id != NULL;
        r = boot_read_kong_secrets(b, db_moved ? &rot.secret : &b->secret, DAEMON_AWS_TIMEOUT,
                                   &rot.kong_secrets, &err);
        if (r < 0 && interrupted(d))
                goto out;
        if (r < 0)
                log_warning(STAGE_ROTATION, "Kong secret settings: keeping the current values: %s", err.msg);
        bool ks_moved = rot.kong_secrets_moved = r > 0;
        if (db_moved || ks_moved) {
                r = boot_apply_rotation(b, &rot, &changed, &err);
                if (r < 0 && interrupted(d))
                        goto out; /* the files are written (atomically) or not at all */
                if (r < 0) {
                        log_error(STAGE_ROTATION, "cannot apply the new secret version: %s", err.msg);
                        next = ROTATION_RETRY_INTERVAL;
                        goto out;
                }
                d->reload_pending = d->reload_pending || changed;
        }
        /* Also a reload that failed at an earlier check. */
        if (reload_kong(d, &err) < 0) {
                if (interrupted(d))
                        goto out;
                log_error(STAGE_ROTATION, "Kong still runs with the previous password: %s", err.msg);
                next = ROTATION_RETRY_INTERVAL;
                goto out;
        }
        const char *done = changed ? "env file rewritten and Kong reloaded" : "nothing Kong reads changed";
        if (db_moved)
                log_stage_done(STAGE_ROTATION, started, "secret version %s in use%s; %s",
                               b->secret.version_id,
                               ks_moved ? ", with the Kong secret settings that moved" : "", done);
        else if (ks_moved)
                log_stage_done(STAGE_ROTATION, started, "Kong secret settings: %s", done);
out:
        rotation_done(&rot);
        secret_value_done(&fresh);
        if (abandoned_for_termination(d, STAGE_ROTATION, "the rotation check"))
                return 0;
        (void)daemon_rearm(s, next, "rotation");
        return 0;
}

/* ---- fleet registry (fleet.c) ------------------------------------------- */

static int on_fleet_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        Daemon *d = userdata;
        fleet_tick(d->boot);
        /* Its waits (DescribeAutoScalingGroups, the database) end on a
         * termination notice too; then the drain, not the next tick. */
        if (abandoned_for_termination(d, STAGE_FLEET, "the fleet check"))
                return 0;
        (void)daemon_rearm(s, jittered(fleet_interval(d->boot)), "fleet registry");
        return 0;
}

/* ---- signals ------------------------------------------------------------- */

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Daemon *d = userdata;
        _cleanup_free_ char *state = NULL;

        if (d->draining)
                return 0;
        /* A restart of this service (package upgrade, operator) must not
         * take Kong down; only a shutdown of the instance drains it. When
         * systemd cannot tell, drain: a lost request beats a cut one. */
        if (systemd_system_state(&state) >= 0 && !streq(state, "stopping")) {
                log_info(STAGE_BOOT, "stopping on %s; the system is %s, so Kong keeps running",
                         strsignal((int)si->ssi_signo), state);
                notify_stopping();
                (void)sd_event_exit(d->event, EXIT_OK);
                return 0;
        }
        start_drain(d, "the instance is shutting down", false);
        return 0;
}

int daemon_block_signals(void)
{
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        return sigprocmask(SIG_BLOCK, &set, NULL) < 0 ? -errno : 0;
}

int daemon_run(Boot *b)
{
        Daemon d = { .boot = b, .exit_status = EXIT_OK };
        const Config *c = b->config;
        int r, status = EXIT_INTERNAL;

        if (daemon_block_signals() < 0)
                return EXIT_INTERNAL;

        r = sd_event_default(&d.event);
        if (r < 0)
                goto fail;
        if ((r = sd_event_add_signal(d.event, NULL, SIGTERM, on_sigterm, &d)) < 0 ||
            (r = sd_event_add_signal(d.event, NULL, SIGINT, on_sigterm, &d)) < 0 ||
            (r = sd_event_add_time_relative(d.event, &d.termination, CLOCK_MONOTONIC,
                                            TERMINATION_WATCH_INTERVAL, USEC_PER_SEC / 10,
                                            on_termination_check, &d)) < 0 ||
            (r = sd_event_add_time_relative(d.event, &d.rotation, CLOCK_MONOTONIC,
                                            jittered(config_get_seconds(c, CONF_ROTATION_INTERVAL)),
                                            USEC_PER_SEC, on_rotation_check, &d)) < 0)
                goto fail;
        if (fleet_enabled(b) &&
            (r = sd_event_add_time_relative(d.event, &d.fleet, CLOCK_MONOTONIC, jittered(fleet_interval(b)),
                                            USEC_PER_SEC / 10, on_fleet_tick, &d)) < 0)
                goto fail;
        /* Feeds WATCHDOG=1 at half of WatchdogSec= while idle … */
        r = sd_event_set_watchdog(d.event, true);
        if (r < 0)
                goto fail;
        /* … and from every slow wait inside a callback. */
        retry_set_keepalive(watchdog_ping, NULL);
        /* … and the termination watch runs from inside them too. */
        d.probe_due = now_usec() + TERMINATION_WATCH_INTERVAL;
        retry_set_interrupt(termination_interrupts, &d);
        log_info(STAGE_BOOT, "watching for termination (every %llu s) and secret rotation (every ~%llu s)",
                 (unsigned long long)(TERMINATION_WATCH_INTERVAL / USEC_PER_SEC),
                 (unsigned long long)(config_get_seconds(c, CONF_ROTATION_INTERVAL) / USEC_PER_SEC));

        r = sd_event_loop(d.event);
        status = r < 0 ? EXIT_INTERNAL : r;
        goto out;
fail:
        log_error(STAGE_BOOT, "cannot set up the event loop: %s", strerror(-r));
out:
        retry_set_keepalive(NULL, NULL);
        retry_set_interrupt(NULL, NULL);
        free(d.termination_why);
        sd_event_source_unref(d.termination);
        sd_event_source_unref(d.rotation);
        sd_event_source_unref(d.drain_timer);
        sd_event_source_unref(d.fleet);
        sd_event_unref(d.event);
        return status;
}
