/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* IMDSv2 only: a session token from PUT /latest/api/token on every GET.
 * There is no IMDSv1 code path. */

#include "http.h"

typedef struct Imds Imds;

typedef struct InstanceInfo {
        char *region;
        char *availability_zone;
        char *instance_id;
        char *mac;
        char **vpc_cidrs;
} InstanceInfo;

/* Gets a token, retrying until 'timeout' passes (IMDS answers late at
 * boot). */
int imds_new(Imds **ret, const char *endpoint, usec_t timeout, Error *err);
Imds *imds_free(Imds *m);
static inline void imds_freep(Imds **m)
{
        imds_free(*m);
}

/* GET /latest/<path>. -ENOENT on 404. */
int imds_get(Imds *m, const char *path, char **ret, Error *err);

int imds_get_instance(Imds *m, InstanceInfo *ret, Error *err);
void instance_info_done(InstanceInfo *i);

/* The instance profile's role name; -ENOENT when the instance has none. */
int imds_get_role(Imds *m, char **ret, Error *err);
int imds_get_role_credentials(Imds *m, const char *role, AwsCredentials *ret, Error *err);

/* Instance tags (InstanceMetadataTags) whose key starts with one of
 * 'prefixes': parallel key and value vectors. None (no tags, or tags not
 * exposed to IMDS) is not an error: both vectors stay NULL. A key with
 * characters that cannot go into a URL path is returned unread, with an
 * empty value, for the caller to refuse. */
int imds_get_tags(Imds *m, char *const *prefixes, char ***ret_keys, char ***ret_values, Error *err);

/* Raw user-data, whole (NUL bytes included); -ENOENT when the instance
 * has none. */
int imds_get_user_data(Imds *m, Buf *ret, Error *err);

/* dynamic/instance-identity/document: region, availabilityZone,
 * instanceId (mac and vpc_cidrs stay NULL). */
int imds_parse_identity(const char *json, size_t len, InstanceInfo *ret, Error *err);

/* The JSON of meta-data/iam/security-credentials/<role>; a 200 may still
 * carry Code != "Success". */
int imds_parse_credentials(const char *json, size_t len, AwsCredentials *ret, Error *err);
/* vpc-ipv4-cidr-blocks: newline separated, each checked. */
int imds_parse_cidrs(const char *text, char ***ret, Error *err);
