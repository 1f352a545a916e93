/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "config.h"

/* `kong-bootstrap run`: the boot sequence, then (unless 'oneshot') the
 * daemon. Returns the exit status. */
int command_run(Config *c, bool oneshot);
