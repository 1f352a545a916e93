/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What systemd sees of us: STATUS= text, READY=1, EXTEND_TIMEOUT_USEC=.
 * All of these are no-ops when $NOTIFY_SOCKET is unset. */

#include "util.h"

_printf_(1, 2) void notify_status(const char *fmt, ...);
void notify_ready(const char *status);
/* Asks systemd for 'usec' more from now before it gives up on our start
 * (or stop). Slow waits call retry_waiting() instead, which also runs the
 * keepalive. */
void notify_extend_timeout(usec_t usec);
void notify_stopping(void);
