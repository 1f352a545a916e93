/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "config.h"

/* `kong-bootstrap check`: one line per stage it can try without changing
 * anything. Returns the exit status. */
int command_check(Config *c, const char *config_path);
