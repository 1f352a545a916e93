/* SPDX-License-Identifier: Apache-2.0 */
#include "boot.h"

#include <ctype.h>
#include <stdio.h>
#include <unistd.h>

#include "autoscaling.h"
#include "db.h"
#include "fileio.h"
#include "imds.h"
#include "kong.h"
#include "notify.h"
#include "ready.h"
#include "render.h"
#include "retry.h"
#include "secrets.h"
#include "systemd.h"
#include "userdata.h"

#define START_JOB_TIMEOUT (300 * USEC_PER_SEC)
/* AWS's JDBC rotation wrapper retries 5 times; so do we. */
#define DB_AUTH_REREADS 5
/* IMDS offers new role credentials at least 5 minutes before expiry. */
#define CREDENTIALS_REFRESH_MARGIN (5 * 60 * USEC_PER_SEC)
#define LIFECYCLE_TIMEOUT          (60 * USEC_PER_SEC)
#define GROUP_TAG                  "aws:autoscaling:groupName"
#define KONG_CONF_MAX              (4 * 1024 * 1024)

void boot_done(Boot *b)
{
        imds_free(b->imds);
        instance_info_done(&b->instance);
        free(b->role);
        free(b->region);
        free(b->group);
        aws_credentials_done(&b->credentials);
        secret_value_done(&b->secret);
        db_params_done(&b->db);
        PQfinish(b->lock_conn);
        buf_done(&b->kong_conf);
        buf_done(&b->env_file);
        strv_free(b->refused_tags);
        free(b->migrations_conf);
        kong_secrets_done(&b->kong_secrets);
}

void boot_record_state(BootState state, Stage stage, int exit_status, const char *error)
{
        static bool warned;
        Error e;

        if (state_record(state, stage, exit_status, error, &e) < 0 && !warned) {
                warned = true;
                log_warning(STAGE_BOOT, "cannot record the boot's state for `kong-bootstrap status`: %s",
                            e.msg);
        }
}

/* Replaces every 'secret' in *text with "<redacted>". */
static void str_replace_in_place(char **text, const char *secret)
{
        char *r = str_replace_all(*text, secret, "<redacted>");
        secret_free(*text); /* it held the secret */
        *text = r;
}

int boot_fail(const Boot *b, Stage s, const Error *err)
{
        int status = stage_exit_status(s);
        log_stage_failed(s, b->started, status, err->msg);
        notify_status("failed at %s: %s", stage_name(s), err->msg);
        /* Error texts name values, never secrets; the world-readable
         * status file still gets every secret this boot holds (the
         * password, Kong's other secrets) cut out should one slip. */
        _cleanup_secret_ char *shown = xstrdup(err->msg);
        const char *pw = b->db.password;
        if (!isempty(pw))
                str_replace_in_place(&shown, pw);
        for (size_t i = 0; i < b->kong_secrets.n_refs; i++)
                if (!isempty(b->kong_secrets.refs[i].value))
                        str_replace_in_place(&shown, b->kong_secrets.refs[i].value);
        boot_record_state(BOOT_STATE_FAILED, s, status, shown);
        return status;
}

static bool region_is_valid(const char *r)
{
        for (const char *p = r; *p; p++)
                if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
                        return false;
        return !isempty(r);
}

/* For manual runs on a workstation or a test box: credentials from the
 * environment instead of the instance role. */
static bool credentials_from_environment(AwsCredentials *ret)
{
        const char *id = secure_getenv("AWS_ACCESS_KEY_ID"),
                   *secret = secure_getenv("AWS_SECRET_ACCESS_KEY");
        if (isempty(id) || isempty(secret))
                return false;
        *ret = (AwsCredentials){
                .access_key_id = xstrdup(id),
                .secret_access_key = xstrdup(secret),
                .session_token = xstrdup(secure_getenv("AWS_SESSION_TOKEN")),
        };
        return true;
}

int boot_imds(Boot *b, Error *err)
{
        const Config *c = b->config;
        usec_t started = now_usec();
        int r;

        notify_status("reading instance metadata (IMDSv2)");
        r = imds_new(&b->imds, config_get(c, CONF_IMDS_ENDPOINT), config_get_seconds(c, CONF_IMDS_TIMEOUT),
                     err);
        if (r < 0)
                return r;
        r = imds_get_instance(b->imds, &b->instance, err);
        if (r < 0)
                return r;
        log_context_set("INSTANCE_ID", b->instance.instance_id);

        if (credentials_from_environment(&b->credentials))
                b->role = xstrdup("(AWS_ACCESS_KEY_ID from the environment)");
        else {
                r = imds_get_role(b->imds, &b->role, err);
                if (r < 0)
                        return r;
                r = imds_get_role_credentials(b->imds, b->role, &b->credentials, err);
                if (r < 0)
                        return r;
                b->role_from_imds = true;
        }
        _cleanup_free_ char *cidrs = strv_join(b->instance.vpc_cidrs, ", ");
        log_stage_done(STAGE_IMDS, started, "instance %s in %s, VPC %s, role %s", b->instance.instance_id,
                       b->instance.availability_zone, cidrs, b->role);
        return 0;
}

/* One tag kong-bootstrap:<key> into the configuration, or refused: the
 * tag's name, the reason, its own MESSAGE_ID, and the trusted value
 * stays. Tags are written by anyone with ec2:CreateTags; a stray one must
 * neither take effect silently nor take the fleet down. */
static void apply_tag(Boot *b, const char *tag, const char *value)
{
        _cleanup_free_ char *shown_tag = sanitize_for_log(tag, 128);
        _cleanup_free_ char *source = xasprintf("instance tag %s", shown_tag);
        Error e = { "" };

        /* The value is not shown: a tag may hold what should have been
         * a secret, and config_set() names the value only when it was
         * permitted and malformed. */
        if (config_set(b->config, CONFIG_LAYER_TAG, tag + strlen("kong-bootstrap:"), value, source, &e) >= 0)
                return;
        log_msg_id(LOG_WARNING, STAGE_CONFIG, MESSAGE_ID_TAG_REFUSED,
                   "refused instance tag %s, not used: %s", shown_tag, e.msg);
        strv_push(&b->refused_tags, xasprintf("%s: %s", shown_tag, e.msg));
}

int boot_instance_config(Boot *b, Error *err)
{
        usec_t started = now_usec();
        _cleanup_strv_ char **keys = NULL, **values = NULL;
        _cleanup_buf_ Buf user_data = { 0 };
        _cleanup_free_ char *text = NULL, *origin = NULL;
        char *prefixes[] = { "kong-bootstrap:", GROUP_TAG, NULL };
        int r;

        r = imds_get_tags(b->imds, prefixes, &keys, &values, err);
        if (r < 0)
                return r;
        for (size_t i = 0; keys && keys[i]; i++) {
                if (streq(keys[i], GROUP_TAG)) {
                        free_and_strdup(&b->group, strip(values[i]));
                        continue;
                }
                apply_tag(b, keys[i], strip(values[i]));
        }

        r = imds_get_user_data(b->imds, &user_data, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r >= 0) {
                r = userdata_extract(user_data.data, user_data.len, &text, &origin, err);
                if (r < 0)
                        return r;
                if (r == USERDATA_FOUND) {
                        r = config_load_text(b->config, CONFIG_LAYER_USERDATA, text, strlen(text), origin,
                                             err);
                        if (r < 0)
                                return r;
                }
        }
        r = config_validate(b->config, true, err);
        if (r < 0)
                return r;
        const Config *c = b->config;
        b->region = xstrdup(config_is_set(c, CONF_REGION) ? config_get(c, CONF_REGION) : b->instance.region);
        if (!region_is_valid(b->region))
                return error_set(err, -EINVAL, "region from %s is not a region name",
                                 config_source(c, CONF_REGION));
        if (config_is_set(b->config, CONF_AUTOSCALING_GROUP))
                free_and_strdup(&b->group, config_get(b->config, CONF_AUTOSCALING_GROUP));
        if ((config_is_set(b->config, CONF_LIFECYCLE_HOOK) ||
             config_is_set(b->config, CONF_TERMINATION_LIFECYCLE_HOOK)) &&
            isempty(b->group))
                return error_set(err, -EINVAL,
                                 "a lifecycle hook is configured but the Auto Scaling group is unknown: the "
                                 "instance has no tag " GROUP_TAG
                                 " in IMDS (enable InstanceMetadataTags) and "
                                 "autoscaling_group is not set");
        log_stage_done(STAGE_CONFIG, started, "instance tags: %zu key(s) read, %zu refused; user-data: %s",
                       strv_length(keys), strv_length(b->refused_tags),
                       origin ? origin : "no kong-bootstrap config");
        return 0;
}

/* Role credentials close to their Expiration (or rejected as expired,
 * 'force') are replaced by the ones IMDS offers by then. Credentials from
 * the environment are the operator's business. */
int boot_refresh_credentials(Boot *b, bool force, Error *err)
{
        if (!b->imds || !b->role_from_imds)
                return 0;
        if (!force && !aws_credentials_expire_within(&b->credentials, CREDENTIALS_REFRESH_MARGIN))
                return 0;
        AwsCredentials fresh = { 0 };
        Error e;
        int r = imds_get_role_credentials(b->imds, b->role, &fresh, &e);
        if (r < 0) {
                error_set(err, r, "cannot refresh the role credentials: %s", e.msg);
                return r;
        }
        aws_credentials_done(&b->credentials);
        b->credentials = fresh;
        log_info(STAGE_IMDS, "role credentials refreshed (expire %s)", b->credentials.expiration ?: "?");
        return 0;
}

/* The configured endpoint, or AWS's own for the region. */
static char *aws_endpoint_url(const Boot *b, ConfigKey k, const char *service)
{
        if (config_is_set(b->config, k))
                return xstrdup(config_get(b->config, k));
        return xasprintf("https://%s.%s.amazonaws.com", service, b->region);
}

/* GetSecretValue for 'id' (from the setting 'key') at
 * secret_version_stage, with credentials refreshed before and, if AWS says
 * they expired, once after. */
static int fetch_secret_id(Boot *b, const char *id, const char *key, usec_t timeout, SecretValue *ret,
                           Error *err)
{
        const Config *c = b->config;
        _cleanup_free_ char *endpoint = aws_endpoint_url(b, CONF_SECRETSMANAGER_ENDPOINT, "secretsmanager");
        const char *stage = config_get(c, CONF_SECRET_VERSION_STAGE);

        int r = boot_refresh_credentials(b, false, err);
        if (r < 0)
                return r;
        r = secrets_get_value(endpoint, b->region, &b->credentials, id, key, stage, timeout, ret, err);
        if (r == -EKEYEXPIRED) {
                /* Rotated under us: one fresh set from IMDS, one more try. */
                log_info(STAGE_SECRETS, "AWS says the role credentials expired; reading new ones from IMDS");
                r = boot_refresh_credentials(b, true, err);
                if (r < 0)
                        return r;
                r = secrets_get_value(endpoint, b->region, &b->credentials, id, key, stage, timeout, ret,
                                      err);
                if (r == -EKEYEXPIRED)
                        r = error_set(err, r,
                                      "AWS rejected fresh role credentials as expired: is the clock right?");
        }
        return r;
}

int boot_fetch_secret(Boot *b, usec_t timeout, SecretValue *ret, Error *err)
{
        const Config *c = b->config;
        int r = fetch_secret_id(b, config_get(c, CONF_SECRET_ID), config_key_name(CONF_SECRET_ID), timeout,
                                ret, err);
        if (r < 0)
                error_prefix(err, "secret_id from %s", config_source(c, CONF_SECRET_ID));
        return r;
}

typedef struct KongSecretFetch {
        Boot *boot;
        usec_t timeout;
        /* The database secret as this boot or rotation check just read it,
         * or NULL when that read failed. */
        const SecretValue *db_secret;
} KongSecretFetch;

/* Whether 'id' names the database secret: secret_id itself, or the ARN or
 * name Secrets Manager gave for it (both read at the one
 * secret_version_stage). */
static bool names_db_secret(const Boot *b, const char *id, const SecretValue *db_secret)
{
        const SecretValue *known = db_secret ? db_secret : &b->secret;
        return streq(id, config_get(b->config, CONF_SECRET_ID)) || (known->arn && streq(id, known->arn)) ||
               (known->name && streq(id, known->name));
}

static int fetch_kong_secret(const char *id, const char *key, SecretValue *ret, void *userdata, Error *err)
{
        KongSecretFetch *f = userdata;
        Boot *b = f->boot;

        /* One GetSecretValue per distinct secret per boot and per rotation
         * check, the database's included: a mapping of it takes the value
         * just read, or, when that read failed, fails with it rather than
         * asking again. */
        if (!names_db_secret(b, id, f->db_secret))
                return fetch_secret_id(b, id, key, f->timeout, ret, err);
        if (!f->db_secret || !f->db_secret->string) {
                _cleanup_free_ char *shown = sanitize_for_log(id, 2048);
                return error_set(err, -EAGAIN,
                                 "secret '%s' is the database secret (%s), which could not be read just now",
                                 shown, config_key_name(CONF_SECRET_ID));
        }
        *ret = (SecretValue){
                .arn = xstrdup(f->db_secret->arn),
                .name = f->db_secret->name ? xstrdup(f->db_secret->name) : NULL,
                .version_id = xstrdup(f->db_secret->version_id),
                .string = xstrdup(f->db_secret->string),
        };
        return 0;
}

static int read_kong_secrets(Boot *b, usec_t timeout, const SecretValue *db_secret, KongSecrets *ret,
                             Error *err)
{
        KongSecretFetch f = { b, timeout, db_secret };
        KongSecrets ks = { 0 };

        int r = kong_secrets_from_config(b->config, &ks, err);
        if (r >= 0)
                r = kong_secrets_fetch(&ks, fetch_kong_secret, &f, err);
        if (r < 0) {
                kong_secrets_done(&ks);
                return r;
        }
        *ret = ks;
        return 0;
}

/* Kong's other secrets, once per boot (a re-read of the database secret
 * after an authentication failure does not read them again). */
static int boot_kong_secrets(Boot *b, Error *err)
{
        const Config *c = b->config;
        usec_t started = now_usec();

        if (b->kong_secrets.fetched || c->n_kong_secrets == 0)
                return 0;
        notify_status("reading the secrets kong_secret.* keys map");
        int r = read_kong_secrets(b, config_get_seconds(c, CONF_AWS_TIMEOUT), &b->secret, &b->kong_secrets,
                                  err);
        if (r < 0)
                return r;
        const KongSecrets *ks = &b->kong_secrets;
        _cleanup_buf_ Buf what = { 0 };
        for (size_t i = 0; i < ks->n_versions; i++)
                buf_printf(&what, "%s%s version %s", i ? ", " : "", ks->versions[i].arn,
                           ks->versions[i].version_id);
        log_info(STAGE_SECRETS, "Kong secret settings: %zu from %zu secret(s): %s (%.1f s)", ks->n_refs,
                 ks->n_versions, what.data ?: "", (double)(now_usec() - started) / USEC_PER_SEC);
        return 0;
}

int boot_rewrite_files(Boot *b, bool *ret_changed, Error *err)
{
        buf_done(&b->kong_conf);
        buf_done(&b->env_file);
        int r = boot_render(b, false, err);
        if (r < 0)
                return r;
        return boot_write_files(b, ret_changed, err);
}

/* Kong Enterprise reads KONG_LICENSE_DATA with os.getenv() in its nginx
 * workers, which inherit the master's environment from when kong.service
 * started: a reload (kong prepare + nginx -s reload) applies what Kong
 * reads through its configuration, not a new license. Restarting Kong here
 * would restart every node of the fleet at once (they all see the new
 * version within one rotation_interval), so the agent says so instead. */
static void warn_license_needs_restart(const Boot *b, const KongSecrets *old)
{
        const KongSecrets *new = &b->kong_secrets;
        for (size_t i = 0; i < new->n_refs; i++) {
                if (!streq(new->refs[i].setting, "license_data"))
                        continue;
                for (size_t j = 0; j < old->n_refs; j++)
                        if (streq(old->refs[j].setting, "license_data") &&
                            !streq(old->refs[j].value ?: "", new->refs[i].value ?: ""))
                                log_warning(
                                        STAGE_ROTATION,
                                        "kong_secret.license_data: the env file carries the new license, "
                                        "but a reload does not change the KONG_LICENSE_DATA Kong's "
                                        "workers read; it takes effect when %s restarts",
                                        config_get(b->config, CONF_KONG_UNIT));
        }
}

int boot_read_kong_secrets(Boot *b, const SecretValue *db_secret, usec_t timeout, KongSecrets *ret,
                           Error *err)
{
        KongSecrets fresh = { 0 };
        _cleanup_strv_ char **moved = NULL;

        if (b->config->n_kong_secrets == 0)
                return 0;
        int r = read_kong_secrets(b, timeout, db_secret, &fresh, err);
        if (r < 0)
                return r;
        moved = kong_secrets_moved(&b->kong_secrets, &fresh);
        if (!moved) {
                kong_secrets_done(&fresh);
                return 0;
        }
        _cleanup_free_ char *list = strv_join(moved, ", ");
        log_info(STAGE_ROTATION, "Kong secret(s) moved: %s", list);
        *ret = fresh;
        return 1;
}

void rotation_done(Rotation *rot)
{
        secret_value_done(&rot->secret);
        db_params_done(&rot->db);
        kong_secrets_done(&rot->kong_secrets);
        rot->kong_secrets_moved = false;
}

int boot_apply_rotation(Boot *b, Rotation *rot, bool *ret_changed, Error *err)
{
        bool db = rot->secret.version_id != NULL, ks = rot->kong_secrets_moved;
        SecretValue old_secret = b->secret;
        DbParams old_db = b->db;
        KongSecrets old_ks = b->kong_secrets;

        if (db) {
                b->secret = rot->secret;
                b->db = rot->db;
        }
        if (ks)
                b->kong_secrets = rot->kong_secrets;
        int r = boot_rewrite_files(b, ret_changed, err);
        if (r < 0) {
                b->secret = old_secret;
                b->db = old_db;
                b->kong_secrets = old_ks;
                return r;
        }
        if (db) {
                secret_value_done(&old_secret);
                db_params_done(&old_db);
                rot->secret = (SecretValue){ 0 };
                rot->db = (DbParams){ 0 };
        }
        if (ks) {
                warn_license_needs_restart(b, &old_ks);
                kong_secrets_done(&old_ks);
                rot->kong_secrets = (KongSecrets){ 0 };
                rot->kong_secrets_moved = false;
        }
        return 0;
}

int boot_secret(Boot *b, Error *err)
{
        const Config *c = b->config;
        usec_t started = now_usec();
        DbSecret secret = { 0 };
        int r;

        notify_status("reading secret %s", config_get(c, CONF_SECRET_ID));
        r = boot_fetch_secret(b, config_get_seconds(c, CONF_AWS_TIMEOUT), &b->secret, err);
        if (r < 0)
                return r;
        log_context_set("SECRET_ARN", b->secret.arn);
        r = secrets_parse_rds(b->secret.string, strlen(b->secret.string), &secret, err);
        if (r >= 0)
                r = db_params_resolve(&secret, c, &b->db, err);
        db_secret_done(&secret);
        if (r < 0) {
                error_prefix(err, "secret '%s' (%s)", config_get(c, CONF_SECRET_ID), b->secret.arn);
                return r;
        }
        /* host, dbname and username come from the secret: shown escaped. */
        _cleanup_free_ char *host = sanitize_for_log(b->db.host, 256),
                            *dbname = sanitize_for_log(b->db.dbname, 128),
                            *user = sanitize_for_log(b->db.user, 128);
        log_stage_done(STAGE_SECRETS, started, "secret %s version %s: database %s:%s/%s as %s",
                       b->secret.arn, b->secret.version_id, host, b->db.port, dbname, user);
        return boot_kong_secrets(b, err);
}

/* Re-reads the secret: on an authentication failure the database may
 * already have a rotated password that AWSCURRENT does not show yet. */
static int reread_secret(Boot *b, Error *err)
{
        secret_value_done(&b->secret);
        db_params_done(&b->db);
        return boot_secret(b, err);
}

int boot_database(Boot *b, Error *err)
{
        usec_t started = now_usec();
        const Config *c = b->config;
        Backoff backoff;
        int r;

        if ((streq(b->db.sslmode, "verify-ca") || streq(b->db.sslmode, "verify-full")) &&
            access(b->db.sslrootcert, R_OK) < 0)
                return error_set(err, -errno,
                                 "pg_sslrootcert '%s' (from %s) cannot be read (%s): install the CA bundle "
                                 "there (RDS: the region's bundle from AWS) or change pg_sslmode (from %s)",
                                 b->db.sslrootcert, config_source(c, CONF_PG_SSLROOTCERT), strerror(errno),
                                 config_source(c, CONF_PG_SSLMODE));

        backoff_init(&backoff, config_get_seconds(c, CONF_PG_WAIT_TIMEOUT), 1 * USEC_PER_SEC,
                     10 * USEC_PER_SEC);
        unsigned attempts = 0;
        for (unsigned rereads = 0;; rereads++) {
                notify_status("waiting for Postgres %s:%s", b->db.host, b->db.port);
                unsigned tries = 0;
                r = db_wait(&b->db, backoff.deadline > now_usec() ? backoff.deadline - now_usec() : 0,
                            &b->lock_conn, &tries, err);
                attempts += tries;
                if (r != -EACCES || rereads >= DB_AUTH_REREADS)
                        break;
                log_warning(STAGE_DATABASE,
                            "%s; re-reading the secret (rotation may be under way), %u of %u", err->msg,
                            rereads + 1, DB_AUTH_REREADS);
                if (!backoff_wait(&backoff))
                        break;
                r = reread_secret(b, err);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        log_stage_done_attempts(STAGE_DATABASE, started, attempts, "Postgres %s:%s/%s answers (server %d)",
                                b->db.host, b->db.port, b->db.dbname, PQserverVersion(b->lock_conn));
        return 0;
}

#define MIGRATIONS_CONF_NAME "kong-migrations.conf"

int boot_write_migrations_conf(Boot *b, Error *err)
{
        const Config *c = b->config;
        const char *env_file = config_get(c, CONF_KONG_ENV_FILE);
        int r;

        /* The env file's directory: private (0700), on tmpfs, ours; the
         * copy holds no secret but is nobody else's business. */
        r = env_file_location_check(env_file, config_source(c, CONF_KONG_ENV_FILE), err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = xstrndup(env_file, (size_t)(strrchr(env_file, '/') - env_file));
        free(b->migrations_conf);
        b->migrations_conf = xasprintf("%s/" MIGRATIONS_CONF_NAME, dir);
        r = write_file_atomic(b->migrations_conf, b->kong_conf.data, b->kong_conf.len, 0600, 0700, NULL,
                              err);
        if (r < 0)
                error_prefix(err, "this boot's kong.conf for kong migrations");
        return r;
}

/* A waiter whose lock connection broke or went mute: the server has ended
 * (or will end) that session, so whatever it held is gone. A new
 * connection competes again, within migrations_wait_timeout. */
static int reconnect_waiter(Boot *b, usec_t deadline, Error *err)
{
        usec_t now = now_usec();

        log_warning(STAGE_MIGRATIONS, "%s; reconnecting to compete for the migration lock again", err->msg);
        PQfinish(b->lock_conn);
        b->lock_conn = NULL;
        if (now >= deadline)
                return error_set(err, -ETIMEDOUT,
                                 "lost the connection to Postgres and migrations_wait_timeout (from %s) has "
                                 "passed",
                                 config_source(b->config, CONF_MIGRATIONS_WAIT_TIMEOUT));
        notify_status("migrations: reconnecting to Postgres %s:%s", b->db.host, b->db.port);
        return db_wait(&b->db, deadline - now, &b->lock_conn, NULL, err);
}

/* One node at a time changes the schema. The first to try takes
 * the lock exclusively and leads; the others wait on it shared, wake
 * together when the leader is done and each inspects the schema (Kong's
 * `list`) in parallel. A waiter that still finds work competes to lead.
 * The lock connection is watched all along (db_lock_watch()): a leader
 * that loses it stops Kong and fails; a waiter reconnects. */
int boot_migrations(Boot *b, Error *err)
{
        const Config *c = b->config;
        usec_t started = now_usec();
        usec_t deadline = started + config_get_seconds(c, CONF_MIGRATIONS_WAIT_TIMEOUT);
        usec_t lead_timeout = config_get_seconds(c, CONF_MIGRATIONS_TIMEOUT);
        _cleanup_free_ char *lead_text = xasprintf("migrations_timeout = %llu s, from %s",
                                                   (unsigned long long)(lead_timeout / USEC_PER_SEC),
                                                   config_source(c, CONF_MIGRATIONS_TIMEOUT));
        _cleanup_free_ char *wait_text = xasprintf("migrations_wait_timeout, from %s",
                                                   config_source(c, CONF_MIGRATIONS_WAIT_TIMEOUT));
        Error unlock_err;
        int r;

        if (!b->migrations_conf)
                return error_set(err, -EINVAL, "no kong.conf rendered for kong migrations");
        notify_status("migrations: taking the migration lock");
        for (;;) {
                bool leader = false;
                r = db_migration_try_lock(b->lock_conn, &b->db, &leader, err);
                if (r >= 0 && !leader) {
                        log_info(STAGE_MIGRATIONS, "another node is changing the schema; waiting for it");
                        usec_t now = now_usec();
                        r = db_migration_lock(b->lock_conn, &b->db, DB_LOCK_SHARED,
                                              deadline > now ? deadline - now : 0, err);
                }
                if (r == -ENOTCONN) {
                        r = reconnect_waiter(b, deadline, err);
                        if (r < 0)
                                break;
                        continue;
                }
                if (r < 0)
                        break;
                log_info(STAGE_MIGRATIONS, leader ? "leading: holding the migration lock"
                                                  : "the leader is done; inspecting the schema");
                DbLockMode mode = leader ? DB_LOCK_EXCLUSIVE : DB_LOCK_SHARED;
                usec_t now = now_usec();
                KongWatch watch = {
                        .lock_conn = b->lock_conn,
                        .started = leader ? now : started,
                        .deadline = leader ? now + lead_timeout : deadline,
                        .deadline_key = leader ? "migrations_timeout" : "migrations_wait_timeout",
                        .deadline_text = leader ? lead_text : wait_text,
                };
                r = migrations_run(c, b->migrations_conf, &b->db, &watch, leader, err);
                if (r == -ENOLCK && !leader) {
                        r = reconnect_waiter(b, deadline, err);
                        if (r < 0)
                                break;
                        continue;
                }
                if (r != -ENOLCK && db_migration_unlock(b->lock_conn, &b->db, mode, &unlock_err) < 0)
                        log_warning(STAGE_MIGRATIONS,
                                    "cannot release the migration lock (closing the connection does): %s",
                                    unlock_err.msg);
                if (r != MIGRATIONS_NEED_LEADER)
                        break;
                if (now_usec() >= deadline) {
                        r = error_set(err, -ETIMEDOUT,
                                      "the schema still needs work after migrations_wait_timeout; is a "
                                      "leader stuck?");
                        break;
                }
                log_info(STAGE_MIGRATIONS, "the schema still needs work; competing to lead");
                /* Others may be inspecting too: do not all retry at once. */
                sleep_usec(random_below(USEC_PER_SEC));
        }
        /* Kong has its own connections from here on; ours is done. */
        PQfinish(b->lock_conn);
        b->lock_conn = NULL;
        (void)unlink(b->migrations_conf);
        if (r < 0)
                return r;
        log_stage_done(STAGE_MIGRATIONS, started, "schema ready for Kong");
        return 0;
}

/* Both files as bytes, before anything changes. */
int boot_render(Boot *b, bool for_display, Error *err)
{
        int r = render_kong_conf(b->config, &b->db, b->instance.vpc_cidrs, for_display, &b->kong_conf, err);
        if (r < 0)
                return r;
        r = render_env_file(&b->db, for_display, &b->env_file, err);
        if (r < 0)
                return r;
        return kong_secrets_render(&b->kong_secrets, for_display, &b->env_file, err);
}

/* Puts kong.conf back as it was before this write: 'old' (NULL: there
 * was none). */
static int restore_kong_conf(const char *path, const Buf *old, Error *err)
{
        if (old)
                return write_file_atomic(path, old->data ?: "", old->len, 0644, 0755, NULL, err);
        if (unlink(path) < 0 && errno != ENOENT)
                return error_set(err, -errno, "cannot remove '%s': %s", path, strerror(errno));
        return 0;
}

/* kong.conf first: the env file's presence in /run is what tells
 * kong.service that this boot's config is complete. A pair: if the env
 * file cannot be written, kong.conf goes back to what it was, so that
 * Kong's next start or reload never reads a new kong.conf (a new pg_user,
 * say) with the previous password, or the reverse. */
int boot_write_files(Boot *b, bool *ret_changed, Error *err)
{
        const Config *c = b->config;
        const char *conf = config_get(c, CONF_KONG_CONF), *env = config_get(c, CONF_KONG_ENV_FILE);
        usec_t started = now_usec();
        bool conf_changed, env_changed;
        _cleanup_buf_ Buf old_conf = { 0 };
        bool had_conf;
        int r;

        r = env_file_location_check(env, config_source(c, CONF_KONG_ENV_FILE), err);
        if (r < 0)
                return r;
        r = read_file_limited(conf, KONG_CONF_MAX, &old_conf, err);
        if (r < 0 && r != -ENOENT) {
                error_prefix(err, "kong_conf: cannot keep the previous file to put back");
                return r;
        }
        had_conf = r >= 0;
        r = write_file_atomic(conf, b->kong_conf.data, b->kong_conf.len, 0644, 0755, &conf_changed, err);
        if (r < 0)
                return r;
        r = write_file_atomic(env, b->env_file.data, b->env_file.len, 0600, 0700, &env_changed, err);
        if (r < 0) {
                char why[sizeof(err->msg)];
                Error undo;
                (void)snprintf(why, sizeof(why), "%s", err->msg);
                if (!conf_changed)
                        return r;
                if (restore_kong_conf(conf, had_conf ? &old_conf : NULL, &undo) < 0)
                        return error_set(err, r,
                                         "%s; and putting %s back failed too (%s): Kong's next start or "
                                         "reload would read the new kong.conf with the previous env file",
                                         why, conf, undo.msg);
                return error_set(err, r, "%s; %s put back as it was, so Kong keeps the previous pair", why,
                                 conf);
        }
        log_stage_done(STAGE_RENDER, started, "%s %s, %s %s", conf, conf_changed ? "written" : "unchanged",
                       env, env_changed ? "written" : "unchanged");
        if (ret_changed)
                *ret_changed = conf_changed || env_changed;
        return 0;
}

int boot_start_kong(Boot *b, Error *err)
{
        const char *unit = config_get(b->config, CONF_KONG_UNIT);
        usec_t started = now_usec();

        notify_status("starting %s", unit);
        int r = systemd_start_unit(unit, START_JOB_TIMEOUT, err);
        if (r < 0)
                return r;
        log_stage_done(STAGE_START, started, "%s started", unit);
        return 0;
}

/* A Kong unit that failed after its start job will never answer. */
static bool kong_unit_failed(void *userdata, Error *err)
{
        const char *unit = userdata;
        _cleanup_free_ char *result = NULL;

        if (systemd_unit_failed(unit, &result) <= 0)
                return false;
        error_set(err, -ECHILD, "%s failed while starting (service result '%s'; see journalctl -u %s)", unit,
                  result ?: "unknown", unit);
        return true;
}

int boot_wait_ready(Boot *b, Error *err)
{
        usec_t started = now_usec();
        int r = kong_wait_ready(config_get(b->config, CONF_STATUS_LISTEN),
                                config_get_seconds(b->config, CONF_READY_TIMEOUT), kong_unit_failed,
                                (void *)config_get(b->config, CONF_KONG_UNIT), err);
        if (r < 0)
                return r;
        log_stage_done(STAGE_READY, started, "Kong answers 200 on /status/ready");
        return 0;
}

int boot_complete_lifecycle(Boot *b, const char *hook, const char *result, Error *err)
{
        usec_t started = now_usec();
        _cleanup_free_ char *url = aws_endpoint_url(b, CONF_AUTOSCALING_ENDPOINT, "autoscaling");
        int r;

        notify_status("completing lifecycle hook %s with %s", hook, result);
        r = boot_refresh_credentials(b, false, err);
        if (r < 0)
                return r;
        AwsEndpoint ep = { url, b->region, &b->credentials, LIFECYCLE_TIMEOUT };
        LifecycleAction a = { b->group, hook, b->instance.instance_id };
        r = autoscaling_complete_lifecycle_action(&ep, &a, result, err);
        if (r < 0)
                return r;
        if (r == LIFECYCLE_NO_ACTIVE_ACTION)
                log_notice(STAGE_LIFECYCLE,
                           "no active lifecycle action for hook '%s' of group '%s' (it timed out, was "
                           "completed "
                           "already, or this instance was not launched through it): nothing to complete",
                           hook, b->group);
        else
                log_stage_done(STAGE_LIFECYCLE, started, "lifecycle hook '%s' of group '%s' completed: %s",
                               hook, b->group, result);
        return 0;
}

/* A heartbeat for the launch hook, so that its timeout does not run out
 * while the boot waits on something slow. */
int boot_record_heartbeat(Boot *b, const char *hook, Error *err)
{
        _cleanup_free_ char *url = aws_endpoint_url(b, CONF_AUTOSCALING_ENDPOINT, "autoscaling");
        AwsEndpoint ep = { url, b->region, &b->credentials, 20 * USEC_PER_SEC };
        LifecycleAction a = { b->group, hook, b->instance.instance_id };
        int r = boot_refresh_credentials(b, false, err);
        if (r < 0)
                return r;
        return autoscaling_record_heartbeat(&ep, &a, err);
}

int boot_run_steps(Boot *b, const BootStep *steps, size_t n, Stage *ret_failed, Error *err)
{
        for (size_t i = 0; i < n; i++) {
                boot_record_state(BOOT_STATE_BOOTING, steps[i].stage, -1, NULL);
                int r = steps[i].run(b, err);
                if (r < 0) {
                        *ret_failed = steps[i].stage;
                        return r;
                }
        }
        return 0;
}

int boot_prepare(Boot *b, Stage *ret_failed, Error *err)
{
        static const BootStep steps[] = { BOOT_PREPARE_STEPS };
        return boot_run_steps(b, steps, ELEMENTSOF(steps), ret_failed, err);
}
