/* SPDX-License-Identifier: Apache-2.0 */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <time.h>

#include "build-config.h"
#include "log.h"
#include "retry.h"
#include "sigv4.h"

/* One handle per nesting level: a transfer in flight asks the interrupt
 * hook (retry.h), which may make requests of its own (the daemon's
 * termination watch reads IMDS while a GetSecretValue waits). libcurl
 * forbids re-using a handle from inside its own callbacks; each level keeps
 * its own connection cache. */
#define HTTP_MAX_NESTING 3
static CURL *handles[HTTP_MAX_NESTING];
static unsigned nesting;
/* AWS's clock minus ours, in seconds (see http_aws_now()). */
static long aws_clock_offset;
/* AWS accepts signatures within 5 minutes of its clock; an answer refusing
 * ours, dated further off than this, means our clock is wrong. */
#define SKEW_THRESHOLD (4 * 60)

time_t http_aws_now(void)
{
        return time(NULL) + aws_clock_offset;
}

long http_aws_clock_offset(void)
{
        return aws_clock_offset;
}

void aws_credentials_done(AwsCredentials *c)
{
        free(c->access_key_id);
        secret_free(c->secret_access_key);
        secret_free(c->session_token);
        free(c->expiration);
        *c = (AwsCredentials){ 0 };
}

bool aws_credentials_expire_within(const AwsCredentials *c, usec_t margin)
{
        struct tm tm = { 0 };

        if (isempty(c->expiration))
                return false;
        const char *end = strptime(c->expiration, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return true;
        time_t expires = timegm(&tm);
        return expires - (time_t)(margin / USEC_PER_SEC) <= http_aws_now();
}

void http_response_done(HttpResponse *r)
{
        buf_done(&r->body);
        r->status = 0;
}

struct sink {
        Buf *body;
        size_t max;
        bool overflow;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct sink *s = userdata;
        size_t n = size * nmemb;

        if (s->body->len + n > s->max) {
                s->overflow = true;
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        }
        buf_append(s->body, data, n);
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        HttpResponse *resp = userdata;
        size_t n = size * nmemb;

        if (n > 5 && strncasecmp(data, "Date:", 5) == 0) {
                _cleanup_free_ char *v = xasprintf("%.*s", (int)(n - 5), data + 5);
                time_t t = curl_getdate(strip(v), NULL);
                resp->date = t > 0 ? t : 0;
        }
        return n;
}

/* A refusal for clock skew: AWS's error codes for it (JSON, Query and S3
 * protocols: "Signature expired: … is now earlier than …", "Signature not
 * yet current: …", RequestTimeTooSkewed, RequestExpired) and a Date
 * that says how far off we are. */
static bool skew_refusal(const HttpResponse *resp, long *ret_offset)
{
        static const char *const markers[] = { "Signature expired", "Signature not yet current",
                                               "RequestTimeTooSkewed", "RequestExpired",
                                               "RequestInTheFuture" };
        if ((resp->status != 400 && resp->status != 403) || resp->date == 0 || !resp->body.data)
                return false;
        long offset = (long)(resp->date - time(NULL));
        long change = offset - aws_clock_offset;
        if (change > -SKEW_THRESHOLD && change < SKEW_THRESHOLD)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(markers); i++)
                if (strstr(resp->body.data, markers[i])) {
                        *ret_offset = offset;
                        return true;
                }
        return false;
}

/* Called by libcurl about once a second, or more often, while a transfer
 * is in flight, connecting included: non-zero aborts it. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
        return retry_interrupted() ? 1 : 0;
}

static void slist_free_wiped(struct curl_slist *l)
{
        for (struct curl_slist *i = l; i; i = i->next)
                explicit_bzero(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

static int errno_from_curl(CURLcode c)
{
        switch (c) {
        case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return -EHOSTUNREACH;
        case CURLE_OUT_OF_MEMORY: return -ENOMEM;
        case CURLE_ABORTED_BY_CALLBACK: return -ECANCELED;
        default: return -EIO;
        }
}

static int perform_once(const HttpRequest *req, HttpResponse *ret, Error *err)
{
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = NULL;
        HttpResponse resp = { .body = { .secret = true } };
        struct sink sink = { .body = &resp.body, .max = req->max_body ? req->max_body : 64 * 1024 };
        _cleanup_secret_ char *token_header = NULL;
        CURLcode c;

        if (nesting >= HTTP_MAX_NESTING)
                return error_set(err, -EBUSY, "%s: HTTP requests nested too deep", req->url);
        CURL *handle = handles[nesting];
        if (!handle) {
                handle = handles[nesting] = curl_easy_init();
                if (!handle)
                        return error_set(err, -ENOMEM, "cannot initialise libcurl");
        } else
                curl_easy_reset(handle); /* keeps the connection cache */

        curl_easy_setopt(handle, CURLOPT_URL, req->url);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(handle, CURLOPT_WRITEDATA, &sink);
        curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(handle, CURLOPT_HEADERDATA, &resp);
        curl_easy_setopt(handle, CURLOPT_USERAGENT, "kong-bootstrap/" PACKAGE_VERSION);
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, (long)(req->timeout / USEC_PER_MSEC));
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, (long)(req->timeout / USEC_PER_MSEC));
        curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, on_progress);
        if (req->no_proxy)
                curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
        if (req->tls_no_verify) {
                curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
        }

        if (streq(req->method, "POST") || req->body) {
                curl_easy_setopt(handle, CURLOPT_POSTFIELDS, req->body ? req->body : "");
                curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
        }
        if (!streq(req->method, "GET") && !streq(req->method, "POST"))
                curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, req->method);

        for (size_t i = 0; req->headers && req->headers[i]; i++)
                headers = curl_slist_append(headers, req->headers[i]);

        if (req->credentials) {
                /* Signed by us, on the corrected clock (sigv4.h says why
                 * not by curl). The session token is a signed header. */
                _cleanup_strv_ char **all = NULL, **auth = NULL;
                for (size_t i = 0; req->headers && req->headers[i]; i++)
                        strv_push(&all, xstrdup(req->headers[i]));
                if (!isempty(req->credentials->session_token)) {
                        token_header =
                                xasprintf("X-Amz-Security-Token: %s", req->credentials->session_token);
                        strv_push(&all, xstrdup(token_header));
                        headers = curl_slist_append(headers, token_header);
                }
                Sigv4Request sr = {
                        .method = req->method,
                        .url = req->url,
                        .headers = all,
                        .body = req->body,
                        .body_len = req->body_len,
                        .region = req->sigv4_region,
                        .service = req->sigv4_service,
                        .access_key_id = req->credentials->access_key_id,
                        .secret_access_key = req->credentials->secret_access_key,
                        .when = http_aws_now(),
                };
                int r = sigv4_sign(&sr, &auth, err);
                for (size_t i = 0; all && all[i]; i++)
                        explicit_bzero(all[i], strlen(all[i]));
                if (r < 0) {
                        slist_free_wiped(headers);
                        return r;
                }
                for (size_t i = 0; auth[i]; i++)
                        headers = curl_slist_append(headers, auth[i]);
        }
        if (headers)
                curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);

        nesting++;
        c = curl_easy_perform(handle);
        nesting--;

        /* Drop every reference to our secrets from the handle. */
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
        slist_free_wiped(headers);

        if (c != CURLE_OK) {
                int r = sink.overflow ? -EFBIG : errno_from_curl(c);
                buf_done(&resp.body);
                if (sink.overflow)
                        return error_set(err, r, "%s: response larger than %zu bytes", req->url, sink.max);
                if (r == -ECANCELED)
                        return error_set(err, r, "%s: abandoned for more urgent work", req->url);
                return error_set(err, r, "%s: %s", req->url, errbuf[0] ? errbuf : curl_easy_strerror(c));
        }
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &resp.status);
        if (!resp.body.data)
                buf_puts(&resp.body, "");
        *ret = resp;
        return 0;
}

int http_perform(const HttpRequest *req, HttpResponse *ret, Error *err)
{
        long offset;
        int r = perform_once(req, ret, err);

        if (r < 0 || !req->credentials || !skew_refusal(ret, &offset))
                return r;
        /* The AWS SDKs' practice: correct the signing clock from the
         * refusal's Date and send again, at once. Once per change. */
        log_msg_id(
                LOG_WARNING, STAGE_BOOT, MESSAGE_ID_CLOCK_SKEW,
                "clock skew: AWS's clock (Date of a refusal from %s) is %+ld s from ours; signing with the "
                "corrected time from now on (is chrony or systemd-timesyncd running?)",
                req->url, offset);
        aws_clock_offset = offset;
        http_response_done(ret);
        return perform_once(req, ret, err);
}

void http_cleanup(void)
{
        for (size_t i = 0; i < ELEMENTSOF(handles); i++) {
                if (handles[i])
                        curl_easy_cleanup(handles[i]);
                handles[i] = NULL;
        }
}

bool http_status_is_retryable(long status)
{
        return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}
