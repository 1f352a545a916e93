/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

static struct {
        bool verbose;
        bool journal;
        char *context[4][2];
} state;

/* systemd sets JOURNAL_STREAM=dev:ino when stderr goes to the journal. */
static bool stderr_is_journal(void)
{
        const char *e = secure_getenv("JOURNAL_STREAM");
        uint64_t dev, ino;
        struct stat st;

        if (!e || !strchr(e, ':'))
                return false;
        _cleanup_free_ char *dev_text = xstrndup(e, strcspn(e, ":"));
        if (parse_uint64(dev_text, &dev) < 0 || parse_uint64(strchr(e, ':') + 1, &ino) < 0)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

void log_setup(bool verbose)
{
        state.verbose = verbose;
        state.journal = stderr_is_journal();
}

void log_context_set(const char *field, const char *value)
{
        for (size_t i = 0; i < ELEMENTSOF(state.context); i++) {
                if (state.context[i][0] && streq(state.context[i][0], field)) {
                        free(state.context[i][1]);
                        state.context[i][1] = xstrdup(value);
                        return;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(state.context); i++) {
                if (!state.context[i][0]) {
                        state.context[i][0] = xstrdup(field);
                        state.context[i][1] = xstrdup(value);
                        return;
                }
        }
}

static void emit(int priority, Stage stage, const char *message_id, usec_t duration, unsigned attempts,
                 int exit_status, const char *message)
{
        if (priority == LOG_DEBUG && !state.verbose)
                return;

        if (!state.journal) {
                const char *level = priority <= LOG_ERR       ? "error: "
                                    : priority == LOG_WARNING ? "warning: "
                                                              : "";
                if (duration != USEC_INFINITY)
                        fprintf(stderr, "%s: %s%s (%llu ms)\n", stage_name(stage), level, message,
                                (unsigned long long)(duration / USEC_PER_MSEC));
                else
                        fprintf(stderr, "%s: %s%s\n", stage_name(stage), level, message);
                (void)fflush(stderr);
                return;
        }

        struct iovec iov[16];
        char *fields[16];
        size_t n = 0;

        fields[n++] = xasprintf("MESSAGE=%s", message);
        fields[n++] = xasprintf("PRIORITY=%d", priority);
        fields[n++] = xasprintf("SYSLOG_IDENTIFIER=kong-bootstrap");
        fields[n++] = xasprintf("STAGE=%s", stage_name(stage));
        if (message_id)
                fields[n++] = xasprintf("MESSAGE_ID=%s", message_id);
        if (duration != USEC_INFINITY)
                fields[n++] = xasprintf("DURATION_USEC=%llu", (unsigned long long)duration);
        if (attempts > 0)
                fields[n++] = xasprintf("ATTEMPT=%u", attempts);
        if (exit_status >= 0)
                fields[n++] = xasprintf("EXIT_STATUS=%d", exit_status);
        for (size_t i = 0; i < ELEMENTSOF(state.context); i++)
                if (state.context[i][0] && state.context[i][1])
                        fields[n++] = xasprintf("%s=%s", state.context[i][0], state.context[i][1]);
        for (size_t i = 0; i < n; i++)
                iov[i] = (struct iovec){ .iov_base = fields[i], .iov_len = strlen(fields[i]) };
        /* Never fatal: a missing journal must not stop a boot. */
        (void)sd_journal_sendv(iov, (int)n);
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
}

static char *format_message(const char *fmt, va_list ap)
{
        char *m;
        if (vasprintf(&m, fmt, ap) < 0)
                abort();
        return m;
}

void log_msg(int priority, Stage stage, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = format_message(fmt, ap);
        va_end(ap);
        emit(priority, stage, NULL, USEC_INFINITY, 0, -1, m);
}

void log_msg_id(int priority, Stage stage, const char *message_id, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = format_message(fmt, ap);
        va_end(ap);
        emit(priority, stage, message_id, USEC_INFINITY, 0, -1, m);
}

void log_stage_done(Stage stage, usec_t started, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = format_message(fmt, ap);
        va_end(ap);
        emit(LOG_INFO, stage, stage_message_id(stage), now_usec() - started, 0, -1, m);
}

void log_stage_done_attempts(Stage stage, usec_t started, unsigned attempts, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *m = format_message(fmt, ap);
        va_end(ap);
        emit(LOG_INFO, stage, stage_message_id(stage), now_usec() - started, attempts, -1, m);
}

void log_stage_failed(Stage stage, usec_t started, int exit_status, const char *message)
{
        emit(LOG_ERR, stage, MESSAGE_ID_BOOT_FAILED, now_usec() - started, 0, exit_status, message);
}
