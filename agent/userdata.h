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

typedef enum UserdataOutcome {
        USERDATA_NONE = 0,  /* user-data holds no kong-bootstrap config */
        USERDATA_FOUND = 1, /* *ret_text holds it (same key = value format) */
} UserdataOutcome;

/* A UserdataOutcome; when found, *ret_origin names it for error messages
 * ("user-data" or "user-data MIME part 2"). Negative with err for
 * malformed MIME or an unsupported encoding. */
int userdata_extract(const char *data, size_t len, char **ret_text, char **ret_origin, Error *err);
