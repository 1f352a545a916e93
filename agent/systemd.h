/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Starting kong.service the way systemctl does, over systemd's D-Bus API
 * (src/shared/bus-wait-for-jobs.c): JobRemoved match first, then
 * StartUnit(name, "replace"), then wait for our job's result. */

#include "util.h"

int systemd_start_unit(const char *unit, usec_t timeout, Error *err);
int systemd_stop_unit(const char *unit, usec_t timeout, Error *err);
/* ReloadUnit: for Kong's unit, `kong prepare` and nginx -s reload, which
 * re-read the EnvironmentFile= (systemd loads it for every command). */
int systemd_reload_unit(const char *unit, usec_t timeout, Error *err);

/* The manager's SystemState ("running", "stopping", …). */
int systemd_system_state(char **ret);

/* 1 when 'unit' is in ActiveState "failed" (*ret_result: its
 * Service.Result, e.g. "exit-code"), 0 when not, negative errno when
 * systemd cannot be asked. */
int systemd_unit_failed(const char *unit, char **ret_result);

/* What systemd loaded for a unit, as `systemctl show` reads it (LoadUnit,
 * which loads the unit file if it is not loaded yet and changes nothing
 * else): its LoadState ("loaded", "not-found", "masked", …), the drop-ins
 * it read (DropInPaths) and, for a service, its EnvironmentFile= paths. */
typedef struct UnitLoadInfo {
        char *load_state;
        char **drop_in_paths;
        char **environment_files;
} UnitLoadInfo;

void unit_load_info_done(UnitLoadInfo *i);
int systemd_unit_load_info(const char *unit, UnitLoadInfo *ret, Error *err);
