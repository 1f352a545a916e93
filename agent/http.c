/* SPDX-License-Identifier: Apache-2.0 */
#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <time.h>

#include "build-config.h"

static CURL *handle;

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
        return expires - (time_t)(margin / USEC_PER_SEC) <= time(NULL);
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
        default: return -EIO;
        }
}

int http_perform(const HttpRequest *req, HttpResponse *ret, Error *err)
{
        char errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = NULL;
        HttpResponse resp = { .body = { .secret = true } };
        struct sink sink = { .body = &resp.body, .max = req->max_body ? req->max_body : 64 * 1024 };
        _cleanup_secret_ char *token_header = NULL;
        char sigv4[256];
        CURLcode c;

        if (!handle) {
                handle = curl_easy_init();
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
        curl_easy_setopt(handle, CURLOPT_USERAGENT, "kong-bootstrap/" PACKAGE_VERSION);
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, (long)(req->timeout / USEC_PER_MSEC));
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, (long)(req->timeout / USEC_PER_MSEC));
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
                /* curl >= 7.86 signs every header we pass; the session token
                 * is a plain header (FIELD-NOTES, "SigV4 with libcurl"). */
                snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:%s", req->sigv4_region, req->sigv4_service);
                curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, sigv4);
                curl_easy_setopt(handle, CURLOPT_USERNAME, req->credentials->access_key_id);
                curl_easy_setopt(handle, CURLOPT_PASSWORD, req->credentials->secret_access_key);
                if (!isempty(req->credentials->session_token)) {
                        token_header =
                                xasprintf("X-Amz-Security-Token: %s", req->credentials->session_token);
                        headers = curl_slist_append(headers, token_header);
                }
        }
        if (headers)
                curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);

        c = curl_easy_perform(handle);

        /* Drop every reference to our secrets from the handle. */
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(handle, CURLOPT_PASSWORD, NULL);
        slist_free_wiped(headers);

        if (c != CURLE_OK) {
                int r = sink.overflow ? -EFBIG : errno_from_curl(c);
                buf_done(&resp.body);
                if (sink.overflow)
                        return error_set(err, r, "%s: response larger than %zu bytes", req->url, sink.max);
                return error_set(err, r, "%s: %s", req->url, errbuf[0] ? errbuf : curl_easy_strerror(c));
        }
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &resp.status);
        if (!resp.body.data)
                buf_puts(&resp.body, "");
        *ret = resp;
        return 0;
}

void http_cleanup(void)
{
        if (handle)
                curl_easy_cleanup(handle);
        handle = NULL;
}

bool http_status_is_retryable(long status)
{
        return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}
