/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Configuration: kong.conf-style files, conf.d/, KONG_BOOTSTRAP_* and
 * --set, merged in that order (later wins). Every value remembers where it
 * came from so errors can name it ("secret_id from /etc/…/x.conf:3").
 */

#include "util.h"

typedef enum ConfigKey {
        CONF_SECRET_ID,
        CONF_SECRET_VERSION_STAGE,
        CONF_REGION,
        CONF_IMDS_ENDPOINT,
        CONF_IMDS_TIMEOUT,
        CONF_SECRETSMANAGER_ENDPOINT,
        CONF_AWS_TIMEOUT,
        CONF_AUTOSCALING_ENDPOINT,
        CONF_PG_HOST,
        CONF_PG_PORT,
        CONF_PG_DATABASE,
        CONF_PG_USER,
        CONF_PG_SCHEMA,
        CONF_PG_SSLMODE,
        CONF_PG_SSLROOTCERT,
        CONF_PG_WAIT_TIMEOUT,
        CONF_MIGRATIONS,
        CONF_MIGRATIONS_FINISH,
        CONF_MIGRATIONS_WAIT_TIMEOUT,
        CONF_MIGRATIONS_TIMEOUT,
        CONF_KONG_BIN,
        CONF_KONG_CONF,
        CONF_KONG_ENV_FILE,
        CONF_KONG_UNIT,
        CONF_KONG_CONF_TEMPLATE,
        CONF_KONG_PREFIX,
        CONF_PROXY_LISTEN,
        CONF_ADMIN_LISTEN,
        CONF_STATUS_LISTEN,
        CONF_TRUSTED_IPS,
        CONF_READY_TIMEOUT,
        CONF_LIFECYCLE_HOOK,
        CONF_LIFECYCLE_HEARTBEAT_INTERVAL,
        CONF_TERMINATION_LIFECYCLE_HOOK,
        CONF_AUTOSCALING_GROUP,
        CONF_ROTATION_INTERVAL,
        CONF_DRAIN_TIMEOUT,
        CONF_STATUS_FILE,
        CONF_CLOUDFORMATION_SIGNAL,
        CONF_CLOUDFORMATION_ENDPOINT,
        CONF_ON_FAILURE,
        CONF_FAILURE_CONSOLE,
        CONF_FLEET_HEARTBEAT_INTERVAL,
        _CONF_MAX,
} ConfigKey;

/* Sources in SPEC order; a value from a later layer wins, and one from an
 * earlier layer never overrides it, whatever order they are loaded in
 * (instance tags and user-data are read after the environment). */
typedef enum ConfigLayer {
        CONFIG_LAYER_DEFAULT,
        CONFIG_LAYER_FILE, /* the config file and conf.d/ */
        CONFIG_LAYER_TAG,
        CONFIG_LAYER_USERDATA,
        CONFIG_LAYER_ENV,
        CONFIG_LAYER_CLI,
} ConfigLayer;

typedef struct Setting {
        ConfigLayer layer;
        char *value;  /* never NULL after config_new(); "" means unset */
        char *source; /* "default", "PATH:LINE", "environment KONG_BOOTSTRAP_X", "--set" */
} Setting;

/* kong.<name> keys, copied into kong.conf. */
typedef struct KongSetting {
        ConfigLayer layer;
        char *name;
        char *value;
        char *source;
} KongSetting;

typedef struct Config {
        Setting settings[_CONF_MAX];
        KongSetting *kong;
        size_t n_kong;
        /* kong_secret.<setting> keys: 'value' names a Secrets Manager
         * secret ("ID-OR-ARN[#JSON-KEY]"); see kongsecrets.h. */
        KongSetting *kong_secrets;
        size_t n_kong_secrets;
} Config;

int config_new(Config **ret);
Config *config_free(Config *c);
static inline void config_freep(Config **c)
{
        config_free(*c);
}

const char *config_key_name(ConfigKey k);
int config_key_from_name(const char *name);

/* Sets 'key' (a ConfigKey name, kong.<setting> or kong_secret.<setting>) from 'source'. Unknown
 * keys are refused, naming the source, and so are keys the layer may not
 * set (config_check_permitted()) and values out of type or bounds. A
 * value from an earlier layer than the one set is ignored. */
int config_set(Config *c, ConfigLayer layer, const char *key, const char *value, const char *source,
               Error *err);

/* The trust model: whether 'layer' may set 'key'. Instance tags may set
 * only an allowlist (hooks, the group, timeouts and intervals); user-data
 * anything but the keys choosing programs, files and the metadata service;
 * the local sources everything. -EPERM naming source and key, -ENOENT for
 * an unknown key. */
int config_check_permitted(ConfigLayer layer, const char *key, const char *source, Error *err);

/* An AWS endpoint URL we may call: https://, or http:// to loopback
 * (127.0.0.0/8, ::1, localhost) or the metadata service (169.254.169.254,
 * fd00:ec2::254); never with a user name in it. */
bool endpoint_is_acceptable(const char *url);

/* Reads kong.conf-style text the way Kong does (Penlight's pl.config plus
 * Kong's strip_comments): '#' and ';' comment lines, an unescaped '#'
 * starts a comment, '\#' is a literal '#', a line ending in '\' goes on on
 * the next, keys and values are trimmed. Calls 'fn' for each setting with
 * its source ("PATH:LINE" or "ORIGIN line LINE"). */
typedef int (*KongConfLineFn)(const char *key, const char *value, const char *source, void *userdata,
                              Error *err);
int kong_conf_parse(const char *text, size_t len, const char *origin, KongConfLineFn fn, void *userdata,
                    Error *err);

/* Parses kong.conf-style text ('#'/';' comment lines, inline '#' comments,
 * '\#' for a literal '#', 'key = value'). 'origin' names the text in
 * sources: a path gives "PATH:LINE", anything else "ORIGIN line LINE". */
int config_load_text(Config *c, ConfigLayer layer, const char *text, size_t len, const char *origin,
                     Error *err);
int config_load_file(Config *c, const char *path, bool must_exist, Error *err);
/* All *.conf in 'dir', in lexical order; a missing dir is fine. */
int config_load_dir(Config *c, const char *dir, Error *err);
/* KONG_BOOTSTRAP_<KEY>; KONG_BOOTSTRAP_KONG_SECRET_<SETTING> is
 * kong_secret.<setting>; KONG_BOOTSTRAP_KONG_<SETTING> is kong.<setting>
 * unless <KEY> is one of ours (kong_bin, kong_conf, …). */
int config_load_environ(Config *c, char *const *envp, Error *err);
/* "KEY=VALUE" from --set. */
int config_load_assignment(Config *c, const char *assignment, Error *err);

/* Checks types, and with 'complete' also required keys (secret_id may
 * still come from instance tags or user-data until then). The message
 * names key and source. */
int config_validate(const Config *c, bool complete, Error *err);

_nonnull_result_ const char *config_get(const Config *c, ConfigKey k);
_nonnull_result_ const char *config_source(const Config *c, ConfigKey k);
bool config_is_set(const Config *c, ConfigKey k);
/* Only for keys config_validate() checked as seconds. */
usec_t config_get_seconds(const Config *c, ConfigKey k);

/* Checks one IPv4/IPv6 CIDR block ("10.0.0.0/16"). */
bool cidr_is_valid(const char *s);
