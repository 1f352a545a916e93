/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The one HTTP helper (libcurl), with SigV4 signing for AWS calls, a cap on
 * what a peer can make us allocate.
 */

#include <time.h>

#include "util.h"

/* Every AWS request is signed on one clock: the host's, corrected by the
 * offset learnt from AWS when it refused a signature as expired or not yet
 * current (its Date header). Role credentials' Expiration is judged on it
 * too. */
time_t http_aws_now(void);
/* The offset (AWS minus us, seconds) in use; 0 until a skew was seen. */
long http_aws_clock_offset(void);
/* Marks the record for skew corrections (units/kong-bootstrap.catalog). */
#define MESSAGE_ID_CLOCK_SKEW "2ead9f869a284ac6afca3ba316964b2f"

typedef struct AwsCredentials {
        char *access_key_id;
        char *secret_access_key; /* secret */
        char *session_token;     /* secret */
        char *expiration;        /* ISO 8601, as IMDS gives it; may be NULL */
} AwsCredentials;

void aws_credentials_done(AwsCredentials *c);

/* True when the credentials carry an Expiration (role credentials do) that
 * is less than 'margin' away, or past, or unreadable. IMDS offers new ones
 * at least 5 minutes before the old ones expire. */
bool aws_credentials_expire_within(const AwsCredentials *c, usec_t margin);

typedef struct HttpRequest {
        const char *method; /* GET, PUT or POST */
        const char *url;
        char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
        const char *body;
        size_t body_len;
        usec_t timeout;  /* the whole attempt */
        size_t max_body; /* larger responses fail with -EFBIG */
        bool no_proxy;   /* link-local and loopback peers never go through a proxy */
        /* https without checking the peer's certificate or name: only for
         * Kong's own status listener on loopback (ready.c says why). */
        bool tls_no_verify;
        /* SigV4: both set or neither. */
        const char *sigv4_region;
        const char *sigv4_service;
        const AwsCredentials *credentials;
} HttpRequest;

typedef struct HttpResponse {
        long status;
        Buf body;    /* marked secret: wiped on free */
        time_t date; /* the Date header; 0 when absent or unreadable */
} HttpResponse;

void http_response_done(HttpResponse *r);

/* 0 when any HTTP response arrived (whatever its status); a negative errno
 * for transport failures (-ETIMEDOUT, -ECONNREFUSED, -EFBIG, -EIO), with
 * curl's explanation in err. A signed request that AWS refuses for clock
 * skew is signed again on the corrected clock and sent once more (the
 * correction logged once, MESSAGE_ID_CLOCK_SKEW). */
int http_perform(const HttpRequest *req, HttpResponse *ret, Error *err);
void http_cleanup(void);

bool http_status_is_retryable(long status);
