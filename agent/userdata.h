/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * kong-bootstrap's part of EC2 user-data: the whole user-data when its
 * first line is "#kong-bootstrap", or the one MIME part of type
 * text/x-kong-bootstrap in a multipart user-data (beside cloud-init's own
 * parts). Anything else (#cloud-config, scripts) holds nothing for us.
 * Gzip is read as cloud-init reads it: the whole user-data inflated once
 * (Terraform's cloudinit_config gzips its multipart by default), and a
 * MIME part of a gzip type (application/gzip, …) inflated and ours when
 * it starts with the line "#kong-bootstrap".
 */

#include "util.h"

#define USERDATA_HEADER    "#kong-bootstrap"
#define USERDATA_MIME_TYPE "text/x-kong-bootstrap"
/* Gzip-compressed user-data (or a gzip MIME part) may inflate to this
 * much, no more. EC2 takes at most 16 KiB of user-data; text compresses
 * by 3 to 10 times, so 1 MiB (64 times the most EC2 passes) is room for
 * any real template, while deflate's ratio of up to ~1000:1 lets 16 KiB
 * claim 16 MiB: a bomb is refused before it is held. */
#define USERDATA_INFLATED_MAX (1024 * 1024)

typedef enum UserdataOutcome {
        USERDATA_NONE = 0,  /* user-data holds no kong-bootstrap config */
        USERDATA_FOUND = 1, /* *ret_text holds it (same key = value format) */
} UserdataOutcome;

/* A UserdataOutcome; when found, *ret_origin names it for error messages
 * ("user-data", "user-data MIME part 2", "gzip-compressed user-data MIME
 * part 1"). Negative with err for malformed MIME, an unsupported encoding,
 * corrupt or truncated gzip (-EBADMSG), or gzip that inflates past
 * USERDATA_INFLATED_MAX (-EFBIG). */
int userdata_extract(const char *data, size_t len, char **ret_text, char **ret_origin, Error *err);
