/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Kong readiness: GET /status/ready on the status listener until 200. */

#include "util.h"

/* The URL to poll for a status_listen value ("0.0.0.0:8100",
 * "[::]:8100 ssl", "a:1, b:2"): its first listener, with wildcard
 * addresses replaced by loopback. */
int ready_url_from_listen(const char *status_listen, char **ret, Error *err);

/* True for an https URL to a loopback address (127.0.0.0/8, [::1]): the
 * one case in which the agent does not verify a certificate. The status
 * listener is this node's own Kong, reached without leaving the host;
 * Kong's default status certificate is self-signed, generated at each
 * `kong prepare`, so there is nothing to verify it against, and neither
 * request nor answer carries a secret. Any other https URL is verified. */
bool ready_url_is_own_loopback_tls(const char *url);

/* Polls until 200 or 'timeout'. 'gave_up' (optional) is asked about once
 * a second whether to stop waiting (Kong's unit failed); it fills err. */
typedef bool (*ReadyGaveUpFn)(void *userdata, Error *err);
int kong_wait_ready(const char *status_listen, usec_t timeout, ReadyGaveUpFn gave_up, void *userdata,
                    Error *err);
