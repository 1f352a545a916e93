/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* AWS API errors, whatever the protocol speaks: JSON 1.1
 * ({"__type": "ns#Code" or "Code:…", "message"}) or the Query API's XML
 * (<ErrorResponse><Error><Code/><Message/></Error>). Codes and messages
 * come back sanitized for logging. */

#include "util.h"

int aws_parse_json_error(const char *body, size_t len, char **ret_code, char **ret_message);
/* -EBADMSG when there is no <Error> element. */
int aws_parse_xml_error(const char *body, size_t len, char **ret_code, char **ret_message);
/* Either form; both results NULL when the body is neither. */
void aws_parse_error(const char *body, size_t len, char **ret_code, char **ret_message);

/* 429/5xx and the throttling and internal-error codes; never access
 * denied, not found or validation errors. */
bool aws_error_is_retryable(long status, const char *code);

/* A sentence for what every AWS service may answer (credentials,
 * signature, clock); NULL for anything else. */
char *aws_explain_common_error(const char *code);
