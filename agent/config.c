/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_MAX (1024 * 1024)

typedef enum ValueType {
        T_STRING,
        T_SECONDS,
        T_PORT,
        T_URL,
        T_PATH,
        T_ENUM,
        T_CIDRS,
        T_STACK_RESOURCE, /* STACK/LogicalId: a stack name or ARN, the resource to signal */
} ValueType;

/* Who may set a key (see "The trust model" in kong-bootstrap.conf(5)):
 * each source may decide only what its writer could already do. Instance
 * tags are written by anyone with ec2:CreateTags, so they choose among
 * safe options only; user-data is written by whoever launches the
 * instance, who already runs code as root through cloud-init; the config
 * file, conf.d/, the environment and --set are root's own. */
typedef enum Trust {
        TRUST_LOCAL,    /* config file, conf.d/, environment, --set only */
        TRUST_USERDATA, /* also user-data, never an instance tag */
        TRUST_TAG,      /* any source: the instance tag allowlist */
} Trust;

/* Bounds of T_SECONDS keys (inclusive): 0 would turn a loop into a hot
 * one, and an absurd value hides a typo for days. */
static const struct {
        const char *name;
        const char *default_value;
        ValueType type;
        const char *const *choices;
        Trust trust;
        uint64_t min, max; /* T_SECONDS only */
} keys[_CONF_MAX] = {
        [CONF_SECRET_ID] = { "secret_id", "", T_STRING, .trust = TRUST_USERDATA },
        [CONF_SECRET_VERSION_STAGE] = { "secret_version_stage", "AWSCURRENT", T_STRING,
                                        .trust = TRUST_USERDATA },
        [CONF_REGION] = { "region", "", T_STRING, .trust = TRUST_USERDATA },
        [CONF_IMDS_ENDPOINT] = { "imds_endpoint", "http://169.254.169.254", T_URL, .trust = TRUST_LOCAL },
        [CONF_IMDS_TIMEOUT] = { "imds_timeout", "240", T_SECONDS, .trust = TRUST_LOCAL, 1, 3600 },
        [CONF_SECRETSMANAGER_ENDPOINT] = { "secretsmanager_endpoint", "", T_URL, .trust = TRUST_USERDATA },
        [CONF_AWS_TIMEOUT] = { "aws_timeout", "120", T_SECONDS, .trust = TRUST_TAG, 1, 3600 },
        [CONF_AUTOSCALING_ENDPOINT] = { "autoscaling_endpoint", "", T_URL, .trust = TRUST_USERDATA },
        [CONF_PG_HOST] = { "pg_host", "", T_STRING, .trust = TRUST_USERDATA },
        [CONF_PG_PORT] = { "pg_port", "", T_PORT, .trust = TRUST_USERDATA },
        [CONF_PG_DATABASE] = { "pg_database", "", T_STRING, .trust = TRUST_USERDATA },
        [CONF_PG_USER] = { "pg_user", "", T_STRING, .trust = TRUST_USERDATA },
        [CONF_PG_SCHEMA] = { "pg_schema", "", T_STRING, .trust = TRUST_USERDATA },
        [CONF_PG_SSLMODE] = { "pg_sslmode", "verify-full", T_ENUM,
                              (const char *const[]){ "disable", "require", "verify-ca", "verify-full",
                                                     NULL },
                              .trust = TRUST_USERDATA },
        [CONF_PG_SSLROOTCERT] = { "pg_sslrootcert", "/etc/kong-bootstrap/rds-ca.pem", T_PATH,
                                  .trust = TRUST_USERDATA },
        [CONF_PG_WAIT_TIMEOUT] = { "pg_wait_timeout", "900", T_SECONDS, .trust = TRUST_TAG, 1, 86400 },
        [CONF_MIGRATIONS] = { "migrations", "auto", T_ENUM,
                              (const char *const[]){ "auto", "bootstrap-only", "off", NULL },
                              .trust = TRUST_USERDATA },
        [CONF_MIGRATIONS_FINISH] = { "migrations_finish", "manual", T_ENUM,
                                     (const char *const[]){ "manual", "auto", "after-rollout", NULL },
                                     .trust = TRUST_USERDATA },
        [CONF_MIGRATIONS_WAIT_TIMEOUT] = { "migrations_wait_timeout", "3600", T_SECONDS, .trust = TRUST_TAG,
                                           1, 86400 },
        /* Half the waiters' wait: a stuck leader is stopped while they
         * still wait, and one of them takes over. Not from tags: a short
         * one would stop every node's schema change half-way. */
        [CONF_MIGRATIONS_TIMEOUT] = { "migrations_timeout", "1800", T_SECONDS, .trust = TRUST_USERDATA, 1,
                                      86400 },
        [CONF_KONG_BIN] = { "kong_bin", "/usr/local/bin/kong", T_PATH, .trust = TRUST_LOCAL },
        [CONF_KONG_CONF] = { "kong_conf", "/etc/kong/kong.conf", T_PATH, .trust = TRUST_LOCAL },
        [CONF_KONG_ENV_FILE] = { "kong_env_file", "/run/kong-bootstrap/kong.env", T_PATH,
                                 .trust = TRUST_LOCAL },
        [CONF_KONG_UNIT] = { "kong_unit", "kong.service", T_STRING, .trust = TRUST_LOCAL },
        /* Read as root and copied into a world-readable file: never from
         * instance metadata. */
        [CONF_KONG_CONF_TEMPLATE] = { "kong_conf_template", "", T_PATH, .trust = TRUST_LOCAL },
        /* Kong writes its resolved settings, password included, there. */
        [CONF_KONG_PREFIX] = { "kong_prefix", "", T_PATH, .trust = TRUST_LOCAL },
        [CONF_PROXY_LISTEN] = { "proxy_listen",
                                "0.0.0.0:8000 proxy_protocol, 0.0.0.0:8443 http2 ssl proxy_protocol",
                                T_STRING, .trust = TRUST_USERDATA },
        [CONF_ADMIN_LISTEN] = { "admin_listen", "127.0.0.1:8001", T_STRING, .trust = TRUST_USERDATA },
        [CONF_STATUS_LISTEN] = { "status_listen", "0.0.0.0:8100", T_STRING, .trust = TRUST_USERDATA },
        [CONF_TRUSTED_IPS] = { "trusted_ips", "", T_CIDRS, .trust = TRUST_USERDATA },
        [CONF_READY_TIMEOUT] = { "ready_timeout", "120", T_SECONDS, .trust = TRUST_TAG, 1, 3600 },
        [CONF_LIFECYCLE_HOOK] = { "lifecycle_hook", "", T_STRING, .trust = TRUST_TAG },
        [CONF_LIFECYCLE_HEARTBEAT_INTERVAL] = { "lifecycle_heartbeat_interval", "300", T_SECONDS,
                                                .trust = TRUST_TAG, 1, 7200 },
        [CONF_TERMINATION_LIFECYCLE_HOOK] = { "termination_lifecycle_hook", "", T_STRING,
                                              .trust = TRUST_TAG },
        /* Not from tags: with migrations_finish = after-rollout the group's
         * listing decides when `finish` may run (fleet.c), and a tag naming
         * another group (one already all new) would hide this group's old
         * and unregistered instances. A tag never needs it: reading tags at
         * all needs InstanceMetadataTags, which also gives
         * aws:autoscaling:groupName, written by Auto Scaling alone. */
        [CONF_AUTOSCALING_GROUP] = { "autoscaling_group", "", T_STRING, .trust = TRUST_USERDATA },
        [CONF_ROTATION_INTERVAL] = { "rotation_interval", "300", T_SECONDS, .trust = TRUST_TAG, 1, 86400 },
        [CONF_DRAIN_TIMEOUT] = { "drain_timeout", "30", T_SECONDS, .trust = TRUST_TAG, 0, 3600 },
        /* Where `run` records its state for `kong-bootstrap status`. */
        [CONF_STATUS_FILE] = { "status_file", "/run/kong-bootstrap/status.json", T_PATH,
                               .trust = TRUST_LOCAL },
        /* Which stack this node reports to: its template (user-data) or
         * root, never a tag, which could make it report to another
         * stack's update (cloudformation.c). */
        [CONF_CLOUDFORMATION_SIGNAL] = { "cloudformation_signal", "", T_STACK_RESOURCE,
                                         .trust = TRUST_USERDATA },
        [CONF_CLOUDFORMATION_ENDPOINT] = { "cloudformation_endpoint", "", T_URL, .trust = TRUST_USERDATA },
        /* keep: a failed node stays (not abandoned) for debugging. Not
         * from tags: a tag could hold a fleet's failed nodes in place of
         * healthy replacements until the hook's timeout. */
        [CONF_ON_FAILURE] = { "on_failure", "abandon", T_ENUM,
                              (const char *const[]){ "abandon", "keep", NULL }, .trust = TRUST_USERDATA },
        /* Where a failed boot's one line goes (the serial console, which
         * `aws ec2 get-console-output` shows); "" for nowhere. */
        [CONF_FAILURE_CONSOLE] = { "failure_console", "/dev/console", T_PATH, .trust = TRUST_LOCAL },
        /* The fleet registry's heartbeat and finish check (after-rollout);
         * a row 3 intervals old is stale. Not from tags: every node judges
         * the others' rows by its own interval, so a tag could make an old
         * node look stale (finish too early) or a fleet poll AWS every
         * second. */
        [CONF_FLEET_HEARTBEAT_INTERVAL] = { "fleet_heartbeat_interval", "30", T_SECONDS,
                                            .trust = TRUST_USERDATA, 1, 3600 },
};

const char *config_key_name(ConfigKey k)
{
        return k < _CONF_MAX ? keys[k].name : NULL;
}

int config_key_from_name(const char *name)
{
        for (size_t i = 0; i < _CONF_MAX; i++)
                if (streq(keys[i].name, name))
                        return (int)i;
        return -ENOENT;
}

int config_new(Config **ret)
{
        Config *c = xcalloc(1, sizeof(Config));
        for (size_t i = 0; i < _CONF_MAX; i++) {
                c->settings[i].value = xstrdup(keys[i].default_value);
                c->settings[i].source = xstrdup("default");
        }
        *ret = c;
        return 0;
}

Config *config_free(Config *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < _CONF_MAX; i++) {
                free(c->settings[i].value);
                free(c->settings[i].source);
        }
        for (size_t i = 0; i < c->n_kong; i++) {
                free(c->kong[i].name);
                free(c->kong[i].value);
                free(c->kong[i].source);
        }
        free(c->kong);
        for (size_t i = 0; i < c->n_kong_secrets; i++) {
                free(c->kong_secrets[i].name);
                free(c->kong_secrets[i].value);
                free(c->kong_secrets[i].source);
        }
        free(c->kong_secrets);
        free(c);
        return NULL;
}

static bool kong_setting_name_is_valid(const char *name)
{
        if (isempty(name))
                return false;
        for (const char *p = name; *p; p++)
                if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_'))
                        return false;
        return true;
}

static bool value_has_control_chars(const char *v)
{
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

static int validate_value(ConfigKey k, const char *v, const char *src, Error *err);

int config_check_permitted(ConfigLayer layer, const char *key, const char *source, Error *err)
{
        _cleanup_free_ char *shown = sanitize_for_log(key, 64);
        /* kong.<setting>: what Kong runs and exposes; kong_secret.<setting>:
         * which secret the instance role reads into Kong's environment (a
         * tag could point ssl_cert at its writer's own certificate). */
        Trust trust = TRUST_USERDATA;

        if (!startswith(key, "kong.") && !startswith(key, "kong_secret.")) {
                int k = config_key_from_name(key);
                if (k < 0)
                        return error_set(err, -ENOENT, "%s: unknown key '%s'", source, shown);
                trust = keys[k].trust;
        }
        if (trust == TRUST_LOCAL && (layer == CONFIG_LAYER_TAG || layer == CONFIG_LAYER_USERDATA))
                return error_set(
                        err, -EPERM,
                        "%s: '%s' can only be set in the config file, the environment or --set, not "
                        "from instance metadata (it chooses a program, a file or the metadata service)",
                        source, shown);
        if (trust == TRUST_USERDATA && layer == CONFIG_LAYER_TAG)
                return error_set(err, -EPERM,
                                 "%s: '%s' cannot be set by an instance tag (anyone allowed "
                                 "ec2:CreateTags writes tags; set it in the config file or user-data)",
                                 source, shown);
        return 0;
}

/* Later layers win; an earlier layer's value is ignored. */
static void kong_list_set(KongSetting **list, size_t *n, ConfigLayer layer, const char *name,
                          const char *value, const char *source)
{
        for (size_t i = 0; i < *n; i++) {
                if (streq((*list)[i].name, name)) {
                        if (layer < (*list)[i].layer)
                                return;
                        (*list)[i].layer = layer;
                        free_and_strdup(&(*list)[i].value, value);
                        free_and_strdup(&(*list)[i].source, source);
                        return;
                }
        }
        *list = xrealloc(*list, (*n + 1) * sizeof(KongSetting));
        (*list)[(*n)++] = (KongSetting){ layer, xstrdup(name), xstrdup(value), xstrdup(source) };
}

int config_set(Config *c, ConfigLayer layer, const char *key, const char *value, const char *source,
               Error *err)
{
        _cleanup_free_ char *shown = sanitize_for_log(key, 64);

        if (value_has_control_chars(value))
                return error_set(err, -EINVAL, "%s: value of '%s' contains a control character", source,
                                 shown);

        if (startswith(key, "kong.")) {
                const char *name = key + strlen("kong.");
                int r = config_check_permitted(layer, key, source, err);
                if (r < 0)
                        return r;
                if (!kong_setting_name_is_valid(name))
                        return error_set(err, -EINVAL,
                                         "%s: '%s' is not a valid Kong setting name (lower case letters, "
                                         "digits and '_')",
                                         source, shown);
                /* Secrets come from Secrets Manager and go to the env file,
                 * never through kong.conf. */
                if (streq(name, "pg_password") || streq(name, "pg_ro_password"))
                        return error_set(err, -EINVAL,
                                         "%s: '%s' cannot be set here: the database password comes from the "
                                         "secret named by secret_id",
                                         source, shown);
                kong_list_set(&c->kong, &c->n_kong, layer, name, value, source);
                return 0;
        }
        /* Kong's other secrets: which setting, from which secret. The
         * reference is checked when it is used (kongsecrets.c). */
        if (startswith(key, "kong_secret.")) {
                const char *name = key + strlen("kong_secret.");
                int r = config_check_permitted(layer, key, source, err);
                if (r < 0)
                        return r;
                if (!kong_setting_name_is_valid(name))
                        return error_set(err, -EINVAL,
                                         "%s: '%s' does not name a Kong setting (lower case letters, digits "
                                         "and '_')",
                                         source, shown);
                kong_list_set(&c->kong_secrets, &c->n_kong_secrets, layer, name, value, source);
                return 0;
        }

        int k = config_key_from_name(key), r;
        if (k < 0)
                return error_set(err, -ENOENT, "%s: unknown key '%s'", source, shown);
        r = config_check_permitted(layer, key, source, err);
        if (r < 0)
                return r;
        r = validate_value((ConfigKey)k, value, source, err);
        if (r < 0)
                return r;
        if (layer < c->settings[k].layer)
                return 0;
        c->settings[k].layer = layer;
        free_and_strdup(&c->settings[k].value, value);
        free_and_strdup(&c->settings[k].source, source);
        return 0;
}

static bool key_char_ok(char ch)
{
        return islower((unsigned char)ch) || isdigit((unsigned char)ch) || ch == '_' || ch == '.';
}

int kong_conf_parse(const char *text, size_t len, const char *origin, KongConfLineFn fn, void *userdata,
                    Error *err)
{
        size_t lineno = 0;
        const char *p = text, *end = text + len;

        if (memchr(text, '\0', len))
                return error_set(err, -EINVAL, "%s: contains a NUL byte", origin);

        while (p < end) {
                _cleanup_buf_ Buf raw = { 0 };
                size_t first_line = lineno + 1;

                /* Penlight's reading: a line ending in '\' goes on on the next one. */
                for (;;) {
                        const char *nl = memchr(p, '\n', (size_t)(end - p));
                        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                        lineno++;
                        buf_append(&raw, p, n);
                        p += n + (nl ? 1 : 0);
                        while (raw.len > 0 &&
                               (raw.data[raw.len - 1] == '\r' || raw.data[raw.len - 1] == ' ' ||
                                raw.data[raw.len - 1] == '\t'))
                                raw.data[--raw.len] = '\0';
                        if (raw.len == 0 || raw.data[raw.len - 1] != '\\' || p >= end)
                                break;
                        raw.data[--raw.len] = '\0';
                }

                _cleanup_free_ char *line = xmalloc(raw.len + 1);
                size_t o = 0;
                bool glued_comment = false; /* "x#y": a '#' right after text */
                /* Kong's reading: an unescaped '#' starts a comment, '\#' is a '#'. */
                for (size_t i = 0; i < raw.len; i++) {
                        if (raw.data[i] == '\\' && i + 1 < raw.len && raw.data[i + 1] == '#') {
                                line[o++] = '#';
                                i++;
                        } else if (raw.data[i] == '#') {
                                glued_comment = i > 0 && !isspace((unsigned char)raw.data[i - 1]);
                                break;
                        } else
                                line[o++] = raw.data[i];
                }
                line[o] = '\0';

                char *s = strip(line);
                if (*s == '\0' || *s == ';')
                        continue;

                _cleanup_free_ char *source = origin[0] == '/'
                                                      ? xasprintf("%s:%zu", origin, first_line)
                                                      : xasprintf("%s line %zu", origin, first_line);
                char *eq = strchr(s, '=');
                if (!eq)
                        return error_set(err, -EINVAL, "%s: expected 'key = value'", source);
                *eq = '\0';
                char *key = strip(s), *value = strip(eq + 1);
                if (*key == '\0')
                        return error_set(err, -EINVAL, "%s: missing key before '='", source);
                for (char *q = key; *q; q++)
                        if (!key_char_ok(*q)) {
                                _cleanup_free_ char *shown = sanitize_for_log(key, 64);
                                return error_set(err, -EINVAL, "%s: invalid key '%s'", source, shown);
                        }
                /* SECRET#JSON-KEY: here '#' starts a comment, which would
                 * silently hand Kong the whole secret. */
                if (glued_comment && startswith(key, "kong_secret."))
                        return error_set(err, -EINVAL,
                                         "%s: '#' starts a comment in this file; write '\\#' before a JSON "
                                         "key (SECRET-ID\\#KEY)",
                                         source);
                int r = fn(key, value, source, userdata, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct load_ctx {
        Config *config;
        ConfigLayer layer;
};

static int load_line(const char *key, const char *value, const char *source, void *userdata, Error *err)
{
        struct load_ctx *ctx = userdata;
        return config_set(ctx->config, ctx->layer, key, value, source, err);
}

int config_load_text(Config *c, ConfigLayer layer, const char *text, size_t len, const char *origin,
                     Error *err)
{
        struct load_ctx ctx = { c, layer };
        return kong_conf_parse(text, len, origin, load_line, &ctx, err);
}

int config_load_file(Config *c, const char *path, bool must_exist, Error *err)
{
        _cleanup_buf_ Buf b = { 0 };
        char chunk[4096];
        ssize_t n;

        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && !must_exist)
                        return 0;
                return error_set(err, -errno, "cannot open config file '%s': %s", path, strerror(errno));
        }
        while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int r = -errno;
                        close(fd);
                        return error_set(err, r, "cannot read config file '%s': %s", path, strerror(-r));
                }
                if (b.len + (size_t)n > CONFIG_FILE_MAX) {
                        close(fd);
                        return error_set(err, -EFBIG, "config file '%s' is larger than %d bytes", path,
                                         CONFIG_FILE_MAX);
                }
                buf_append(&b, chunk, (size_t)n);
        }
        close(fd);
        return config_load_text(c, CONFIG_LAYER_FILE, b.data ? b.data : "", b.len, path, err);
}

static int compare_strings(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int config_load_dir(Config *c, const char *dir, Error *err)
{
        _cleanup_strv_ char **names = NULL;
        struct dirent *de;

        DIR *d = opendir(dir);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return error_set(err, -errno, "cannot open config directory '%s': %s", dir, strerror(errno));
        }
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (de->d_name[0] == '.' || n < 6 || !streq(de->d_name + n - 5, ".conf"))
                        continue;
                strv_push(&names, xstrdup(de->d_name));
        }
        closedir(d);
        if (!names)
                return 0;
        qsort(names, strv_length(names), sizeof(char *), compare_strings);
        STRV_FOREACH (name, names) {
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, *name);
                int r = config_load_file(c, path, true, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

#define ENV_PREFIX "KONG_BOOTSTRAP_"

int config_load_environ(Config *c, char *const *envp, Error *err)
{
        for (size_t i = 0; envp && envp[i]; i++) {
                const char *e = envp[i];
                if (!startswith(e, ENV_PREFIX))
                        continue;
                const char *eq = strchr(e, '=');
                if (!eq)
                        continue;
                _cleanup_free_ char *var = xstrndup(e, (size_t)(eq - e));
                _cleanup_free_ char *key = xstrdup(var + strlen(ENV_PREFIX));
                for (char *q = key; *q; q++)
                        *q = (char)tolower((unsigned char)*q);
                /* KONG_BOOTSTRAP_KONG_SECRET_<SETTING>: kong_secret.<setting>
                 * (Kong has no setting named secret_…). */
                if (config_key_from_name(key) < 0 && startswith(key, "kong_secret_")) {
                        char *k = xasprintf("kong_secret.%s", key + strlen("kong_secret_"));
                        free(key);
                        key = k;
                } else if (config_key_from_name(key) < 0 && startswith(key, "kong_")) {
                        char *k = xasprintf("kong.%s", key + strlen("kong_"));
                        free(key);
                        key = k;
                }
                _cleanup_free_ char *source = xasprintf("environment %s", var);
                int r = config_set(c, CONFIG_LAYER_ENV, key, eq + 1, source, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_load_assignment(Config *c, const char *assignment, Error *err)
{
        const char *eq = strchr(assignment, '=');
        if (!eq || eq == assignment)
                return error_set(err, -EINVAL, "--set expects KEY=VALUE");
        _cleanup_free_ char *key = xstrndup(assignment, (size_t)(eq - assignment));
        return config_set(c, CONFIG_LAYER_CLI, strip(key), eq + 1, "--set", err);
}

const char *config_get(const Config *c, ConfigKey k)
{
        return c->settings[k].value;
}

const char *config_source(const Config *c, ConfigKey k)
{
        return c->settings[k].source;
}

bool config_is_set(const Config *c, ConfigKey k)
{
        return !isempty(c->settings[k].value);
}

usec_t config_get_seconds(const Config *c, ConfigKey k)
{
        usec_t v = 0;
        if (parse_seconds(c->settings[k].value, &v) < 0)
                abort(); /* config_validate() guarantees this */
        return v;
}

bool cidr_is_valid(const char *s)
{
        unsigned char addr[16];
        const char *slash = strchr(s, '/');
        uint64_t bits;

        if (!slash || slash == s)
                return false;
        _cleanup_free_ char *ip = xstrndup(s, (size_t)(slash - s));
        if (parse_uint64(slash + 1, &bits) < 0)
                return false;
        if (inet_pton(AF_INET, ip, addr) == 1)
                return bits <= 32;
        if (inet_pton(AF_INET6, ip, addr) == 1)
                return bits <= 128;
        return false;
}

/* The host of "scheme://host[:port][/…]": "[v6]" without brackets. NULL
 * when the authority holds a user name ('@'), which could hide the real
 * host from a reader ("http://127.0.0.1@evil.example/"). */
static char *url_host(const char *authority_start)
{
        size_t n = strcspn(authority_start, "/?#");
        _cleanup_free_ char *authority = xstrndup(authority_start, n);

        if (authority[0] == '\0' || strchr(authority, '@'))
                return NULL;
        if (authority[0] == '[') {
                char *close = strchr(authority, ']');
                if (!close || (close[1] != '\0' && close[1] != ':'))
                        return NULL;
                return xstrndup(authority + 1, (size_t)(close - authority - 1));
        }
        return xstrndup(authority, strcspn(authority, ":"));
}

bool endpoint_is_acceptable(const char *url)
{
        const char *rest;
        bool https = startswith_no_case(url, "https://");

        if (https)
                rest = url + strlen("https://");
        else if (startswith_no_case(url, "http://"))
                rest = url + strlen("http://");
        else
                return false;
        _cleanup_free_ char *host = url_host(rest);
        if (!host)
                return false;
        if (https)
                return true;

        /* Plain http only where no network is crossed: loopback (the test
         * stack) and the instance metadata service's link-local addresses. */
        unsigned char a[16];
        if (strcasecmp(host, "localhost") == 0 || streq(host, "169.254.169.254"))
                return true;
        if (inet_pton(AF_INET, host, a) == 1)
                return a[0] == 127;
        if (inet_pton(AF_INET6, host, a) == 1) {
                static const unsigned char loopback[16] = { [15] = 1 };
                static const unsigned char imds[16] = { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02 };
                return memcmp(a, loopback, 16) == 0 || memcmp(a, imds, 16) == 0;
        }
        return false;
}

/* CloudFormation's StackName pattern, ([a-zA-Z][-a-zA-Z0-9]*) or
 * (arn:(aws|aws-us-gov|aws-cn):[-a-zA-Z0-9:/._+]*), then '/' and an
 * alphanumeric logical ID (the template's resource name). The ARN has '/'
 * in it: the logical ID is what follows the last one. */
static bool stack_resource_is_valid(const char *v)
{
        const char *slash = strrchr(v, '/');
        if (!slash || slash == v || !slash[1] || strlen(slash + 1) > 255)
                return false;
        for (const char *p = slash + 1; *p; p++)
                if (!isalnum((unsigned char)*p))
                        return false;
        size_t n = (size_t)(slash - v);
        const char *allowed;
        size_t i;
        if (n > 4 && strncmp(v, "arn:", 4) == 0) {
                static const char *const partitions[] = { "aws:", "aws-us-gov:", "aws-cn:" };
                i = 0;
                for (size_t j = 0; j < ELEMENTSOF(partitions) && i == 0; j++)
                        if (strncmp(v + 4, partitions[j], strlen(partitions[j])) == 0)
                                i = 4 + strlen(partitions[j]);
                if (i == 0)
                        return false;
                allowed = "-:/._+";
        } else {
                if (!isalpha((unsigned char)v[0]))
                        return false;
                i = 1;
                allowed = "-";
        }
        for (; i < n; i++)
                if (!isalnum((unsigned char)v[i]) && !strchr(allowed, v[i]))
                        return false;
        return true;
}

static int validate_value(ConfigKey k, const char *v, const char *src, Error *err)
{
        _cleanup_free_ char *shown = sanitize_for_log(v, 128);
        uint64_t u;
        uint16_t port;

        if (isempty(v))
                return 0;
        switch (keys[k].type) {
        case T_STRING: return 0;
        case T_SECONDS:
                if (parse_uint64(v, &u) < 0 || u < keys[k].min || u > keys[k].max)
                        return error_set(err, -EINVAL,
                                         "%s from %s: '%s' is not a number of seconds in %llu..%llu",
                                         keys[k].name, src, shown, (unsigned long long)keys[k].min,
                                         (unsigned long long)keys[k].max);
                return 0;
        case T_PORT:
                if (parse_port(v, &port) < 0)
                        return error_set(err, -EINVAL, "%s from %s: '%s' is not a port number (1..65535)",
                                         keys[k].name, src, shown);
                return 0;
        case T_URL:
                if (!endpoint_is_acceptable(v))
                        return error_set(err, -EINVAL,
                                         "%s from %s: '%s' is not an https:// URL (http:// only for "
                                         "loopback and the instance metadata addresses 169.254.169.254 "
                                         "and [fd00:ec2::254]; no user name in the URL)",
                                         keys[k].name, src, shown);
                return 0;
        case T_PATH:
                if (v[0] != '/')
                        return error_set(err, -EINVAL, "%s from %s: '%s' is not an absolute path",
                                         keys[k].name, src, shown);
                return 0;
        case T_ENUM:
                for (size_t i = 0; keys[k].choices[i]; i++)
                        if (streq(keys[k].choices[i], v))
                                return 0;
                {
                        _cleanup_free_ char *choices = strv_join((char **)keys[k].choices, ", ");
                        return error_set(err, -EINVAL, "%s from %s: '%s' is not one of: %s", keys[k].name,
                                         src, shown, choices);
                }
        case T_STACK_RESOURCE:
                if (!stack_resource_is_valid(v))
                        return error_set(
                                err, -EINVAL,
                                "%s from %s: '%s' is not STACK/LogicalId (a stack name or ARN, '/', "
                                "the resource's logical ID in the template, e.g. kong/KongGroup)",
                                keys[k].name, src, shown);
                return 0;
        case T_CIDRS: {
                _cleanup_free_ char *copy = xstrdup(v);
                char *save = NULL;
                for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        char *cidr = strip(t);
                        if (!cidr_is_valid(cidr)) {
                                _cleanup_free_ char *bad = sanitize_for_log(cidr, 64);
                                return error_set(err, -EINVAL, "%s from %s: '%s' is not a CIDR block",
                                                 keys[k].name, src, bad);
                        }
                }
                return 0;
        }
        }
        return 0;
}

static int validate_one(const Config *c, ConfigKey k, Error *err)
{
        return validate_value(k, c->settings[k].value, c->settings[k].source, err);
}

int config_validate(const Config *c, bool complete, Error *err)
{
        for (size_t k = 0; k < _CONF_MAX; k++) {
                int r = validate_one(c, (ConfigKey)k, err);
                if (r < 0)
                        return r;
        }
        if (!complete)
                return 0;
        if (!config_is_set(c, CONF_SECRET_ID))
                return error_set(
                        err, -EINVAL,
                        "secret_id is not set: name the Secrets Manager secret holding the database "
                        "credentials (secret_id = NAME-OR-ARN in the config file, "
                        "KONG_BOOTSTRAP_SECRET_ID or --set secret_id=…)");
        static const ConfigKey required[] = { CONF_IMDS_ENDPOINT, CONF_KONG_BIN,  CONF_KONG_CONF,
                                              CONF_KONG_ENV_FILE, CONF_KONG_UNIT, CONF_STATUS_LISTEN,
                                              CONF_PROXY_LISTEN };
        for (size_t i = 0; i < ELEMENTSOF(required); i++)
                if (!config_is_set(c, required[i]))
                        return error_set(err, -EINVAL, "%s from %s: must not be empty",
                                         keys[required[i]].name, c->settings[required[i]].source);
        return 0;
}
