/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The one logging path. Under systemd (stderr connected to the journal, as
 * $JOURNAL_STREAM says) each call becomes a structured journal record;
 * otherwise a readable line on stderr. Callers never pass secrets.
 */

#include <syslog.h>

#include "stage.h"
#include "util.h"

void log_setup(bool verbose);

/* Context fields added to every later journal record (INSTANCE_ID,
 * SECRET_ARN). NULL value removes the field. */
void log_context_set(const char *field, const char *value);

_printf_(3, 4) void log_msg(int priority, Stage stage, const char *fmt, ...);

/* A record with a MESSAGE_ID of its own (see units/kong-bootstrap.catalog). */
_printf_(4, 5) void log_msg_id(int priority, Stage stage, const char *message_id, const char *fmt, ...);

/* The record that closes a stage: MESSAGE_ID of the stage, its duration,
 * and (when not 0) how many attempts it took (ATTEMPT=). */
_printf_(3, 4) void log_stage_done(Stage stage, usec_t started, const char *fmt, ...);
_printf_(4, 5) void log_stage_done_attempts(Stage stage, usec_t started, unsigned attempts, const char *fmt,
                                            ...);
/* A record with its own MESSAGE_ID (not a stage's), e.g.
 * MESSAGE_ID_TAG_REFUSED. */
_printf_(4, 5) void log_msg_id(int priority, Stage stage, const char *message_id, const char *fmt, ...);
/* The record of a failed boot: MESSAGE_ID of failure, the stage, exit code. */
void log_stage_failed(Stage stage, usec_t started, int exit_status, const char *message);

#define log_debug(stage, ...)   log_msg(LOG_DEBUG, stage, __VA_ARGS__)
#define log_info(stage, ...)    log_msg(LOG_INFO, stage, __VA_ARGS__)
#define log_notice(stage, ...)  log_msg(LOG_NOTICE, stage, __VA_ARGS__)
#define log_warning(stage, ...) log_msg(LOG_WARNING, stage, __VA_ARGS__)
#define log_error(stage, ...)   log_msg(LOG_ERR, stage, __VA_ARGS__)
