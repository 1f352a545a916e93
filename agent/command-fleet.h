/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "config.h"

/* `kong-bootstrap fleet [--json]`: the fleet registry (node, zone, Kong
 * version, state, heartbeat age), the schema's state as the nodes last saw
 * it, the Auto Scaling group's instances and what keeps `kong migrations
 * finish` waiting. Reads only: no row, lock or file changes. Returns the
 * exit status. */
int command_fleet(Config *c, bool json);
