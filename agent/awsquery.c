/* SPDX-License-Identifier: Apache-2.0 */
#include "awsquery.h"

#include <ctype.h>

#include "awserror.h"
#include "retry.h"

#define QUERY_ATTEMPT_TIMEOUT (10 * USEC_PER_SEC)

void form_append(Buf *b, const char *key, const char *value)
{
        if (b->len > 0)
                buf_puts(b, "&");
        buf_puts(b, key);
        buf_puts(b, "=");
        for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
                if (isalnum(*p) || strchr("-._~", *p))
                        buf_append(b, p, 1);
                else
                        buf_printf(b, "%%%02X", *p);
        }
}

void aws_refusal_done(AwsRefusal *r)
{
        free(r->code);
        free(r->message);
        *r = (AwsRefusal){ 0 };
}

char *aws_refusal_text(const AwsRefusal *r, const char *explained)
{
        return xasprintf("%s%s(HTTP %ld%s%s%s%s)", explained ?: "", explained ? " " : "", r->status,
                         r->code ? ", " : "", r->code ?: "", r->message ? ": " : "", r->message ?: "");
}

int aws_query_post(const AwsEndpoint *ep, const char *service, const Buf *body, size_t max_body,
                   HttpResponse *resp, AwsRefusal *refusal, Error *err)
{
        char *headers[] = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL };
        HttpRequest req = {
                .method = "POST",
                .url = ep->url,
                .headers = headers,
                .body = body->data,
                .body_len = body->len,
                .timeout = QUERY_ATTEMPT_TIMEOUT,
                .max_body = max_body,
                .sigv4_region = ep->region,
                .sigv4_service = service,
                .credentials = ep->credentials,
        };
        Backoff b;
        int r;

        backoff_init(&b, ep->timeout, 200 * USEC_PER_MSEC, 20 * USEC_PER_SEC);
        for (;;) {
                HttpResponse got = { 0 };
                r = http_perform(&req, &got, err);
                if (r == -EFBIG)
                        return r;
                if (r >= 0) {
                        if (got.status == 200) {
                                *resp = got;
                                aws_refusal_done(refusal);
                                return AWS_QUERY_OK;
                        }
                        aws_refusal_done(refusal);
                        refusal->status = got.status;
                        aws_parse_error(got.body.data, got.body.len, &refusal->code, &refusal->message);
                        http_response_done(&got);
                        r = AWS_QUERY_REFUSED;
                        if (!aws_error_is_retryable(refusal->status, refusal->code))
                                return r;
                }
                if (!backoff_wait(&b))
                        return r;
        }
}
