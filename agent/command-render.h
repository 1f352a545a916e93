/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "config.h"

/* `kong-bootstrap render`: the kong.conf and env file a run would write,
 * password redacted; with 'diff', what a run would change instead.
 * Changes nothing. Returns the exit status. */
int command_render(Config *c, bool diff);
