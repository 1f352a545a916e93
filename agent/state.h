/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * What a running `kong-bootstrap run` tells `kong-bootstrap status`: one
 * small JSON file (status_file, default /run/kong-bootstrap/status.json),
 * rewritten atomically at every change of stage or state, mode 0644 in a
 * directory others may traverse but not list. It holds the stage, the
 * state, when the boot started, the last error (the same text systemd's
 * STATUS= and the journal already show) and the agent's pid: never a
 * secret.
 */

#include <sys/types.h>

#include "stage.h"
#include "util.h"

typedef enum BootState {
        BOOT_STATE_BOOTING,  /* stages running */
        BOOT_STATE_READY,    /* Kong ready, boot complete */
        BOOT_STATE_FAILED,   /* the boot stopped at 'stage' with 'error' */
        BOOT_STATE_DRAINING, /* the day after: termination or shutdown */
        _BOOT_STATE_MAX,
} BootState;

const char *boot_state_name(BootState s);

/* Where this run records its state and when it started (now_usec()).
 * Until this is called state_record() does nothing: only `run` records
 * (render and check share the stages but are not the node's boot). */
void state_open(const char *path, usec_t started);

/* Rewrites the status file: 'stage' and 'state' now; 'exit_status' (or
 * -1) and 'error' (or NULL) for a failed boot or a drain's reason. */
int state_record(BootState state, Stage stage, int exit_status, const char *error, Error *err);

typedef struct StateInfo {
        BootState state;
        char *stage;
        pid_t pid;
        uint64_t pid_start;      /* starttime of /proc/PID/stat (clock ticks since boot) */
        usec_t started;          /* CLOCK_MONOTONIC: one clock for every process of this boot */
        usec_t started_realtime; /* the same instant, wall clock */
        usec_t elapsed;          /* since 'started', at the last record */
        int exit_status;         /* -1 when none */
        char *error;             /* NULL when none */
} StateInfo;

void state_info_done(StateInfo *i);

/* Reads a status file. -ENOENT (err set) when there is none; -EBADMSG when
 * it is not one; another negative errno when it cannot be read. */
int state_read(const char *path, StateInfo *ret, Error *err);

/* Whether the process that wrote 'i' still runs (the same pid and the
 * same start time: a pid reused since is not it). */
bool state_writer_running(const StateInfo *i);

/* starttime (field 22) of /proc/PID/stat; 0 when unreadable. */
uint64_t state_process_start(pid_t pid);
