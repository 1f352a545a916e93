/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * kong-bootstrap's part of EC2 user-data: the whole user-data when its
 * first line is "#kong-bootstrap", or the one MIME part of type
 * text/x-kong-bootstrap in a multipart user-data (beside cloud-init's own
 * parts). Anything else (#cloud-config, scripts) holds nothing for us.
 */

#include "util.h"

#define USERDATA_HEADER    "#kong-bootstrap"
#define USERDATA_MIME_TYPE "text/x-kong-bootstrap"

/* 1 and the config text (same key = value format) when found, with
 * *ret_origin naming it for error messages ("user-data" or "user-data MIME
 * part 2"); 0 when user-data holds no kong-bootstrap config; negative with
 * err for malformed MIME or an unsupported encoding. */
int userdata_extract(const char *data, size_t len, char **ret_text, char **ret_origin, Error *err);
