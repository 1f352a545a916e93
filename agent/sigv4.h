/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * AWS Signature Version 4 for one request, at a time the caller chooses.
 *
 * libcurl signs with the host's clock only: Debian 12's curl 7.88.1 does
 * take a caller's X-Amz-Date for the signature, but then sends that header
 * twice (curl#11738, fixed in 8.3.0), and AWS joins repeated headers with a
 * comma, so the signature never matches. A clock corrected for skew needs
 * a signer of our own.
 */

#include <time.h>

#include "util.h"

typedef struct Sigv4Request {
        const char *method;
        const char *url;      /* scheme://host[:port][/path]; no query string */
        char *const *headers; /* "Name: value", all signed; NULL-terminated, may be NULL */
        const char *body;
        size_t body_len;
        const char *region;
        const char *service;
        const char *access_key_id;
        const char *secret_access_key; /* secret */
        time_t when;
} Sigv4Request;

/* The headers to send besides req->headers: "Host: …", "X-Amz-Date: …"
 * and "Authorization: AWS4-HMAC-SHA256 …", as a NULL-terminated list. */
int sigv4_sign(const Sigv4Request *req, char ***ret_headers, Error *err);

/* For tests: the canonical request and the string to sign. */
int sigv4_canonical(const Sigv4Request *req, char **ret_canonical, char **ret_string_to_sign, Error *err);
