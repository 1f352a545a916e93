/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What a boot's outcome tells the world outside the instance, where the
 * journal does not reach once an abandoned instance is gone: CloudFormation
 * (cloudformation_signal: SUCCESS when Kong is ready, FAILURE when the boot
 * fails), the serial console (failure_console: one line, stage and reason,
 * which `aws ec2 get-console-output` still shows after termination), and
 * on_failure = keep, which leaves a failed node alive for debugging. None
 * of these fails a boot: their own failures are logged. */

#include "boot.h"

/* The SignalResource record, sent or failed (units/kong-bootstrap.catalog). */
#define MESSAGE_ID_CFN_SIGNAL "af4d052aad654c208008ac2e180fa8cb"
/* A failed node kept alive (on_failure = keep): its hook is not abandoned. */
#define MESSAGE_ID_FAILED_NODE_KEPT "4c49b39bc62043eab517d51ade810ee0"

/* Kong is ready: SUCCESS to cloudformation_signal, if set. */
void report_ready(Boot *b);

/* A failed boot (exit 'status' at stage 's'): its line on failure_console
 * and FAILURE to cloudformation_signal, if set. */
void report_failed(Boot *b, Stage s, int status, const Error *err);

/* on_failure = keep: true, and the journal says that the launch hook
 * 'hook' is left to its timeout (its DefaultResult then applies). */
bool report_keep_failed_node(const Boot *b, const char *hook);
