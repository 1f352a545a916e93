/* SPDX-License-Identifier: Apache-2.0 */
#include "ready.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "http.h"
#include "log.h"
#include "notify.h"
#include "retry.h"

#define READY_POLL_INTERVAL   (100 * USEC_PER_MSEC)
#define READY_ATTEMPT_TIMEOUT (2 * USEC_PER_SEC)

int ready_url_from_listen(const char *status_listen, char **ret, Error *err)
{
        _cleanup_free_ char *first = xstrndup(status_listen, strcspn(status_listen, ","));
        char *s = strip(first);
        char *flags = s + strcspn(s, " \t");
        bool ssl = strstr(flags, "ssl") != NULL;
        *flags = '\0';

        char *colon = strrchr(s, ':');
        uint16_t port;
        if (!colon || parse_port(colon + 1, &port) < 0) {
                _cleanup_free_ char *shown = sanitize_for_log(status_listen, 128);
                return error_set(err, -EINVAL, "status_listen '%s' does not start with HOST:PORT", shown);
        }
        *colon = '\0';
        const char *host = s;
        if (streq(host, "0.0.0.0") || streq(host, "*") || *host == '\0')
                host = "127.0.0.1";
        else if (streq(host, "[::]"))
                host = "[::1]";
        *ret = xasprintf("%s://%s:%u/status/ready", ssl ? "https" : "http", host, port);
        return 0;
}

bool ready_url_is_own_loopback_tls(const char *url)
{
        if (!url || !startswith(url, "https://"))
                return false;
        const char *host = url + strlen("https://");
        _cleanup_free_ char *h = NULL;
        struct in_addr a4;
        struct in6_addr a6;

        if (*host == '[') {
                h = xstrndup(host + 1, strcspn(host + 1, "]"));
                return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
        h = xstrndup(host, strcspn(host, ":/"));
        return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int kong_wait_ready(const char *status_listen, usec_t timeout, ReadyGaveUpFn gave_up, void *userdata,
                    Error *err)
{
        _cleanup_free_ char *url = NULL;
        usec_t started = now_usec();
        char last[sizeof(((Error *)0)->msg)] = "no answer yet";
        int r;

        r = ready_url_from_listen(status_listen, &url, err);
        if (r < 0)
                return r;
        HttpRequest req = {
                .method = "GET",
                .url = url,
                .timeout = READY_ATTEMPT_TIMEOUT,
                .max_body = 16 * 1024,
                .no_proxy = true,
                .tls_no_verify = ready_url_is_own_loopback_tls(url),
        };
        for (unsigned round = 1;; round++) {
                HttpResponse resp = { 0 };
                Error e;
                r = http_perform(&req, &resp, &e);
                if (r >= 0) {
                        long status = resp.status;
                        http_response_done(&resp);
                        if (status == 200)
                                return 0;
                        snprintf(last, sizeof(last), "HTTP %ld", status);
                } else
                        snprintf(last, sizeof(last), "%s", e.msg);
                if (gave_up && round % (USEC_PER_SEC / READY_POLL_INTERVAL) == 0 && gave_up(userdata, err))
                        return -ECHILD;
                usec_t waited = now_usec() - started;
                if (waited >= timeout)
                        return error_set(err, -ETIMEDOUT,
                                         "Kong was not ready within %llu s (ready_timeout) at %s: %s",
                                         (unsigned long long)(timeout / USEC_PER_SEC), url, last);
                notify_status("waiting for Kong to be ready (%llu s)",
                              (unsigned long long)(waited / USEC_PER_SEC));
                retry_waiting(timeout - waited + 10 * USEC_PER_SEC);
                sleep_usec(READY_POLL_INTERVAL);
        }
}
