/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "json.h"

#define STATE_FILE_MAX  (16 * 1024)
#define STATE_ERROR_MAX 1024
/* Others may reach the file by name (status needs no privilege) but not
 * list the directory; every other file there keeps its own 0600. */
#define STATE_FILE_MODE 0644
#define STATE_DIR_MODE  0711

static const char *const state_names[_BOOT_STATE_MAX] = {
        [BOOT_STATE_BOOTING] = "booting",
        [BOOT_STATE_READY] = "ready",
        [BOOT_STATE_FAILED] = "failed",
        [BOOT_STATE_DRAINING] = "draining",
};

static struct {
        char *path;
        usec_t started, started_realtime;
        pid_t pid;
        uint64_t pid_start;
} writer;

const char *boot_state_name(BootState s)
{
        return s < _BOOT_STATE_MAX ? state_names[s] : "unknown";
}

static usec_t realtime_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

uint64_t state_process_start(pid_t pid)
{
        char path[64], line[1024];
        uint64_t start = 0;

        (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        bool got = fgets(line, sizeof(line), f) != NULL;
        (void)fclose(f);
        /* "PID (COMM) S PPID …": comm may hold spaces and ')'; the fields
         * after the last ')' start with the third; starttime is the 22nd. */
        const char *p = got ? strrchr(line, ')') : NULL;
        for (int field = 2; p && field < 22; field++)
                p = strchr(p + 1, ' ');
        if (!p)
                return 0;
        _cleanup_free_ char *field = xstrndup(p + 1, strcspn(p + 1, " "));
        return parse_uint64(field, &start) < 0 ? 0 : start;
}

void state_open(const char *path, usec_t started)
{
        free(writer.path);
        writer.path = xstrdup(path);
        writer.started = started;
        writer.started_realtime = realtime_usec() - (now_usec() - started);
        writer.pid = getpid();
        writer.pid_start = state_process_start(writer.pid);
}

int state_record(BootState state, Stage stage, int exit_status, const char *error, Error *err)
{
        if (!writer.path)
                return 0;
        cJSON *o = cJSON_CreateObject();
        (void)cJSON_AddStringToObject(o, "state", boot_state_name(state));
        (void)cJSON_AddStringToObject(o, "stage", stage_name(stage));
        (void)cJSON_AddNumberToObject(o, "pid", (double)writer.pid);
        (void)cJSON_AddNumberToObject(o, "pid_start", (double)writer.pid_start);
        (void)cJSON_AddNumberToObject(o, "started_monotonic_usec", (double)writer.started);
        (void)cJSON_AddNumberToObject(o, "started_realtime_usec", (double)writer.started_realtime);
        (void)cJSON_AddNumberToObject(o, "elapsed_usec", (double)(now_usec() - writer.started));
        if (exit_status >= 0)
                (void)cJSON_AddNumberToObject(o, "exit_status", exit_status);
        else
                (void)cJSON_AddNullToObject(o, "exit_status");
        if (error) {
                /* The STATUS= text, already free of secrets and control
                 * characters; cut as systemd's status line would be. */
                _cleanup_free_ char *shown = sanitize_for_log(error, STATE_ERROR_MAX);
                (void)cJSON_AddStringToObject(o, "error", shown);
        } else
                (void)cJSON_AddNullToObject(o, "error");
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text)
                return error_set(err, -ENOMEM, "cannot format the status file");
        _cleanup_free_ char *line = xasprintf("%s\n", text);
        cJSON_free(text);
        int r = write_file_atomic(writer.path, line, strlen(line), STATE_FILE_MODE, STATE_DIR_MODE, NULL,
                                  err);
        if (r < 0)
                error_prefix(err, "status_file");
        return r;
}

void state_info_done(StateInfo *i)
{
        free(i->stage);
        free(i->error);
        *i = (StateInfo){ .exit_status = -1 };
}

static bool json_uint(const cJSON *o, const char *name, uint64_t *ret)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0)
                return false;
        *ret = (uint64_t)v->valuedouble;
        return true;
}

int state_read(const char *path, StateInfo *ret, Error *err)
{
        _cleanup_buf_ Buf data = { 0 };
        StateInfo i = { .exit_status = -1 };
        uint64_t pid, exit_status;
        int r = read_file_limited(path, STATE_FILE_MAX, &data, err);
        if (r < 0)
                return r;

        cJSON *o = cJSON_ParseWithLength(data.data ? data.data : "", data.len);
        const char *state = json_string(o, "state"), *stage = json_string(o, "stage");
        const char *error = json_string(o, "error");
        int found = -1;
        for (size_t k = 0; state && k < _BOOT_STATE_MAX; k++)
                if (streq(state, state_names[k]))
                        found = (int)k;
        if (found < 0 || !stage || !json_uint(o, "pid", &pid) || pid == 0 || pid > INT32_MAX ||
            !json_uint(o, "pid_start", &i.pid_start) ||
            !json_uint(o, "started_monotonic_usec", &i.started) ||
            !json_uint(o, "started_realtime_usec", &i.started_realtime) ||
            !json_uint(o, "elapsed_usec", &i.elapsed)) {
                cJSON_Delete(o);
                return error_set(err, -EBADMSG, "%s is not a kong-bootstrap status file", path);
        }
        i.state = (BootState)found;
        i.pid = (pid_t)pid;
        if (json_uint(o, "exit_status", &exit_status) && exit_status <= 255)
                i.exit_status = (int)exit_status;
        i.stage = xstrdup(stage);
        i.error = error ? xstrdup(error) : NULL;
        cJSON_Delete(o);
        *ret = i;
        return 0;
}

bool state_writer_running(const StateInfo *i)
{
        /* EPERM: it runs, as another user (root). */
        if (kill(i->pid, 0) < 0 && errno != EPERM)
                return false;
        uint64_t start = state_process_start(i->pid);
        /* Unreadable /proc (hidepid=): the pid alone says it. */
        return start == 0 || i->pid_start == 0 || start == i->pid_start;
}
