/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* AWS's Query API (Auto Scaling, CloudFormation): a form-encoded POST
 * signed with SigV4 (no query string: FIELD-NOTES, "SigV4 with libcurl"),
 * the clock corrected from AWS's Date (http.c), throttling, 5xx and
 * transport errors retried with one backoff, errors read from AWS's XML.
 * Callers build the form and turn a refusal into their own sentence. */

#include "http.h"

typedef struct AwsEndpoint {
        const char *url;
        const char *region;
        const AwsCredentials *credentials;
        usec_t timeout; /* the whole call, retries included */
} AwsEndpoint;

/* application/x-www-form-urlencoded value (RFC 3986 unreserved kept). */
void form_append(Buf *b, const char *key, const char *value);

/* AWS's answer when it was not 200. */
typedef struct AwsRefusal {
        long status;
        char *code;    /* e.g. "ValidationError"; NULL when the body named none */
        char *message; /* AWS's text, or NULL */
} AwsRefusal;

void aws_refusal_done(AwsRefusal *r);

/* "<explained> (HTTP 400, Code: message)": the tail of every sentence a
 * caller makes of a refusal; explained may be NULL. */
char *aws_refusal_text(const AwsRefusal *r, const char *explained);

typedef enum AwsQueryOutcome {
        AWS_QUERY_OK = 0,      /* *resp holds the 200 answer (http_response_done it) */
        AWS_QUERY_REFUSED = 1, /* *refusal: not retryable, or the last one when time ran out */
} AwsQueryOutcome;

/* POST body to ep->url signed for service ("autoscaling",
 * "cloudformation"): an AwsQueryOutcome, or negative errno with err
 * (transport failure when time ran out; -EFBIG for an answer over
 * max_body, not retried). Every wait is interruptible (retry.h). */
int aws_query_post(const AwsEndpoint *ep, const char *service, const Buf *body, size_t max_body,
                   HttpResponse *resp, AwsRefusal *refusal, Error *err);
