/* SPDX-License-Identifier: Apache-2.0 */
#include "notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

void notify_status(const char *fmt, ...)
{
        char status[512];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(status, sizeof(status), fmt, ap);
        va_end(ap);
        /* A newline would start another assignment (READY=1, …) in the
         * notification: a host name from the secret must not do that. */
        _cleanup_free_ char *shown = sanitize_for_log(status, sizeof(status));
        (void)sd_notifyf(0, "STATUS=%s", shown);
}

void notify_ready(const char *status)
{
        (void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_extend_timeout(usec_t usec)
{
        (void)sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)usec);
}

void notify_stopping(void)
{
        (void)sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
}
