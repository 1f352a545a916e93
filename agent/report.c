/* SPDX-License-Identifier: Apache-2.0 */
#include "report.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "cloudformation.h"
#include "notify.h"

#define CFN_SIGNAL_TIMEOUT (60 * USEC_PER_SEC) /* as the lifecycle calls */
#define CONSOLE_LINE_MAX   1024

static void signal_cloudformation(Boot *b, const char *status)
{
        const Config *c = b->config;
        const char *target = config_get(c, CONF_CLOUDFORMATION_SIGNAL);
        _cleanup_free_ char *url = NULL;
        CfnTarget t = { 0 };
        Error e;

        if (isempty(target))
                return;
        if (!b->region || !b->credentials.access_key_id || !b->instance.instance_id) {
                log_msg_id(LOG_ERR, STAGE_BOOT, MESSAGE_ID_CFN_SIGNAL,
                           "cannot send SignalResource %s to %s (cloudformation_signal from %s): the boot "
                           "failed before the region, the instance id and the role's credentials were known",
                           status, target, config_source(c, CONF_CLOUDFORMATION_SIGNAL));
                return;
        }
        if (cfn_target_parse(target, &t, &e) < 0 || boot_refresh_credentials(b, false, &e) < 0) {
                log_msg_id(LOG_ERR, STAGE_BOOT, MESSAGE_ID_CFN_SIGNAL,
                           "cannot send SignalResource %s (cloudformation_signal from %s): %s", status,
                           config_source(c, CONF_CLOUDFORMATION_SIGNAL), e.msg);
                cfn_target_done(&t);
                return;
        }
        url = config_is_set(c, CONF_CLOUDFORMATION_ENDPOINT)
                      ? xstrdup(config_get(c, CONF_CLOUDFORMATION_ENDPOINT))
                      : xasprintf("https://cloudformation.%s.amazonaws.com", b->region);
        AwsEndpoint ep = { url, b->region, &b->credentials, CFN_SIGNAL_TIMEOUT };
        notify_status("signalling CloudFormation: %s", status);
        if (cloudformation_signal_resource(&ep, &t, b->instance.instance_id, status, &e) < 0)
                log_msg_id(LOG_ERR, STAGE_BOOT, MESSAGE_ID_CFN_SIGNAL, "%s (cloudformation_signal from %s)",
                           e.msg, config_source(c, CONF_CLOUDFORMATION_SIGNAL));
        else
                log_msg_id(LOG_NOTICE, STAGE_BOOT, MESSAGE_ID_CFN_SIGNAL,
                           "CloudFormation signalled: %s for resource '%s' of stack '%s' (UniqueId %s)",
                           status, t.logical_id, t.stack, b->instance.instance_id);
        cfn_target_done(&t);
}

void report_ready(Boot *b)
{
        signal_cloudformation(b, "SUCCESS");
}

/* One line, written at once and never waited on (O_NONBLOCK: a console
 * stuck on flow control must not hold the boot's end). The reason is the
 * error sentence the journal has, which never holds a secret; control
 * characters are escaped as in every log line. */
static void console_line(const Boot *b, Stage s, int status, const Error *err)
{
        const char *path = config_get(b->config, CONF_FAILURE_CONSOLE);
        if (isempty(path))
                return;
        _cleanup_free_ char *reason = sanitize_for_log(err->msg, CONSOLE_LINE_MAX);
        _cleanup_free_ char *line =
                xasprintf("kong-bootstrap: boot failed at %s (exit %d) on %s: %s\n", stage_name(s), status,
                          b->instance.instance_id ?: "this instance", reason);
        int fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                log_warning(STAGE_BOOT, "cannot write the failure to '%s' (failure_console, from %s): %s",
                            path, config_source(b->config, CONF_FAILURE_CONSOLE), strerror(errno));
                return;
        }
        ssize_t n = write(fd, line, strlen(line));
        if (n < 0)
                log_warning(STAGE_BOOT, "cannot write the failure to '%s' (failure_console, from %s): %s",
                            path, config_source(b->config, CONF_FAILURE_CONSOLE), strerror(errno));
        (void)close(fd);
}

void report_failed(Boot *b, Stage s, int status, const Error *err)
{
        console_line(b, s, status, err);
        signal_cloudformation(b, "FAILURE");
}

bool report_keep_failed_node(const Boot *b, const char *hook)
{
        const Config *c = b->config;
        if (!streq(config_get(c, CONF_ON_FAILURE), "keep"))
                return false;
        log_msg_id(LOG_WARNING, STAGE_LIFECYCLE, MESSAGE_ID_FAILED_NODE_KEPT,
                   "on_failure = keep (from %s): lifecycle hook '%s' is not abandoned, so this failed node "
                   "stays for debugging until the hook's heartbeat timeout, when the hook's default result "
                   "applies (ABANDON: the group terminates it; CONTINUE: it goes in service as it is)",
                   config_source(c, CONF_ON_FAILURE), hook);
        return true;
}
