/* SPDX-License-Identifier: Apache-2.0 */
#include "systemd.h"

#include <systemd/sd-bus.h>

#include "notify.h"
#include "retry.h"

typedef struct JobWait {
        const char *job_path; /* NULL until the method replied */
        /* JobRemoved can arrive before we read the method reply's
         * path only if we processed it first; remember them all. */
        char **seen_paths;
        char **seen_results;
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        JobWait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        strv_push(&w->seen_paths, xstrdup(path));
        strv_push(&w->seen_results, xstrdup(result));
        return 0;
}

static const char *job_result(const JobWait *w)
{
        for (size_t i = 0; w->job_path && w->seen_paths && w->seen_paths[i]; i++)
                if (streq(w->seen_paths[i], w->job_path))
                        return w->seen_results[i];
        return NULL;
}

static char *unit_service_result(sd_bus *bus, const char *unit)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *path;
        char *result = NULL;

        if (sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnit", &e, &reply, "s", unit) >= 0 &&
            sd_bus_message_read(reply, "o", &path) >= 0)
                (void)sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                                 "org.freedesktop.systemd1.Service", "Result", &e, &result);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return result;
}

static int unit_job(const char *method, const char *verb, const char *unit, usec_t timeout, Error *err)
{
        sd_bus *bus = NULL;
        sd_bus_slot *slot = NULL;
        sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        JobWait w = { 0 };
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                error_set(err, r, "cannot connect to the system bus: %s", strerror(-r));
                goto out;
        }
        r = sd_bus_match_signal(bus, &slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "JobRemoved", on_job_removed, &w);
        if (r < 0) {
                error_set(err, r, "cannot watch systemd's jobs: %s", strerror(-r));
                goto out;
        }
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", method, &e, &reply, "ss", unit,
                               "replace");
        if (r < 0) {
                error_set(err, r, "systemd refused to %s %s: %s", verb, unit,
                          e.message ? e.message : strerror(-r));
                goto out;
        }
        r = sd_bus_message_read(reply, "o", &w.job_path);
        if (r < 0) {
                error_set(err, r, "unexpected %s reply: %s", method, strerror(-r));
                goto out;
        }

        usec_t deadline = now_usec() + timeout;
        while (!job_result(&w)) {
                usec_t now = now_usec();
                if (now >= deadline) {
                        r = error_set(err, -ETIMEDOUT, "the %s job of %s did not finish within %llu s", verb,
                                      unit, (unsigned long long)(timeout / USEC_PER_SEC));
                        goto out;
                }
                r = sd_bus_process(bus, NULL);
                if (r < 0) {
                        error_set(err, r, "lost the system bus during the %s job of %s: %s", verb, unit,
                                  strerror(-r));
                        goto out;
                }
                if (r > 0)
                        continue;
                retry_waiting(deadline - now + 10 * USEC_PER_SEC);
                if (retry_interrupted()) {
                        /* The job goes on in systemd; we stop waiting for it. */
                        r = error_set(err, -ECANCELED, "stopped waiting for the %s job of %s", verb, unit);
                        goto out;
                }
                r = sd_bus_wait(bus,
                                deadline - now < RETRY_POLL_INTERVAL ? deadline - now : RETRY_POLL_INTERVAL);
                if (r < 0) {
                        error_set(err, r, "lost the system bus during the %s job of %s: %s", verb, unit,
                                  strerror(-r));
                        goto out;
                }
        }

        const char *result = job_result(&w);
        if (!streq(result, "done")) {
                _cleanup_free_ char *service_result = unit_service_result(bus, unit);
                r = error_set(err, -EIO,
                              "%s failed to %s: job %s, service result '%s' (see journalctl -u %s)", unit,
                              verb, result, service_result ?: "unknown", unit);
                goto out;
        }
        r = 0;
out:
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply); /* also owns w.job_path */
        sd_bus_slot_unref(slot);
        sd_bus_flush_close_unref(bus);
        strv_free(w.seen_paths);
        strv_free(w.seen_results);
        return r;
}

int systemd_start_unit(const char *unit, usec_t timeout, Error *err)
{
        return unit_job("StartUnit", "start", unit, timeout, err);
}

int systemd_stop_unit(const char *unit, usec_t timeout, Error *err)
{
        return unit_job("StopUnit", "stop", unit, timeout, err);
}

int systemd_reload_unit(const char *unit, usec_t timeout, Error *err)
{
        return unit_job("ReloadUnit", "reload", unit, timeout, err);
}

int systemd_system_state(char **ret)
{
        sd_bus *bus = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                               "org.freedesktop.systemd1.Manager", "SystemState", &e, ret);
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(bus);
        return r;
}

int systemd_unit_failed(const char *unit, char **ret_result)
{
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path;
        char *state = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "GetUnit", &e, &reply, "s", unit);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                               "org.freedesktop.systemd1.Unit", "ActiveState", &e, &state);
        if (r >= 0) {
                r = streq(state, "failed");
                if (r && ret_result &&
                    sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                               "org.freedesktop.systemd1.Service", "Result", &e,
                                               ret_result) < 0)
                        *ret_result = NULL;
        }
        free(state);
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return r;
}

void unit_load_info_done(UnitLoadInfo *i)
{
        free(i->load_state);
        strv_free(i->drop_in_paths);
        strv_free(i->environment_files);
        *i = (UnitLoadInfo){ 0 };
}

/* Service.EnvironmentFiles: a(sb), the path and whether it may be missing. */
static int read_environment_files(sd_bus *bus, const char *path, char ***ret, sd_bus_error *e)
{
        sd_bus_message *reply = NULL;
        const char *file;
        int optional, r;

        r = sd_bus_get_property(bus, "org.freedesktop.systemd1", path, "org.freedesktop.systemd1.Service",
                                "EnvironmentFiles", e, &reply, "a(sb)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sb)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(sb)", &file, &optional)) > 0)
                strv_push(ret, xstrdup(file));
        sd_bus_message_unref(reply);
        return r;
}

int systemd_unit_load_info(const char *unit, UnitLoadInfo *ret, Error *err)
{
        sd_bus *bus = NULL;
        sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        UnitLoadInfo info = { 0 };
        const char *path;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return error_set(err, r, "cannot connect to systemd's bus: %s", strerror(-r));
        r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "LoadUnit", &e, &reply, "s", unit);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", path,
                                               "org.freedesktop.systemd1.Unit", "LoadState", &e,
                                               &info.load_state);
        if (r >= 0)
                r = sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", path,
                                             "org.freedesktop.systemd1.Unit", "DropInPaths", &e,
                                             &info.drop_in_paths);
        /* Only a loaded service has the Service interface. */
        if (r >= 0 && streq(info.load_state, "loaded"))
                r = read_environment_files(bus, path, &info.environment_files, &e);
        if (r < 0) {
                error_set(err, r, "cannot read unit %s from systemd: %s", unit, e.message ?: strerror(-r));
                unit_load_info_done(&info);
        } else
                *ret = info;
        sd_bus_error_free(&e);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return r < 0 ? r : 0;
}
