/* SPDX-License-Identifier: Apache-2.0 */
#include "probe.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "kong.h"
#include "kongcli.h"
#include "systemd.h"

int probe_kong_binary(const Config *c, Error *err)
{
        const char *bin = config_get(c, CONF_KONG_BIN);
        const char *args[] = { "version", NULL };
        _cleanup_free_ char *out = NULL;
        int status = -1;
        /* Kong's CLI as run starts it, without the password (`version`
         * needs none) and with a deadline, so a hung kong_bin cannot hang
         * check. */
        int r = kongcli_run(bin, args, NULL, PROBE_KONG_TIMEOUT, &status, &out, err);

        if (r < 0) {
                error_prefix(err, "kong_bin from %s", config_source(c, CONF_KONG_BIN));
                return r;
        }
        if (status != 0) {
                _cleanup_free_ char *shown = sanitize_for_log(strip(out), 200);
                return error_set(err, -EIO, "'%s version' (kong_bin, from %s) exited %d: %s", bin,
                                 config_source(c, CONF_KONG_BIN), status, shown);
        }
        return 0;
}

int probe_kong_unit(const Config *c, char **ret_detail, Error *err)
{
        const char *unit = config_get(c, CONF_KONG_UNIT), *env = config_get(c, CONF_KONG_ENV_FILE);
        UnitLoadInfo info = { 0 };
        int r = systemd_unit_load_info(unit, &info, err);

        if (r < 0) {
                error_prefix(err, "kong_unit from %s", config_source(c, CONF_KONG_UNIT));
                return r;
        }
        _cleanup_free_ char *dropins = info.drop_in_paths && info.drop_in_paths[0]
                                               ? strv_join(info.drop_in_paths, ", ")
                                               : xstrdup("none");
        if (!streq(info.load_state, "loaded"))
                r = error_set(err, -ENOENT,
                              "kong_unit '%s' (from %s) is not loaded by systemd (LoadState %s): install "
                              "Kong's package, or set kong_unit to its unit (kong.service; "
                              "kong-enterprise-edition.service for Kong Gateway Enterprise)",
                              unit, config_source(c, CONF_KONG_UNIT), info.load_state ?: "?");
        else if (!strv_contains(info.environment_files, env))
                r = error_set(err, -ENOENT,
                              "kong_unit '%s' (from %s) does not read kong_env_file '%s' (from %s): no "
                              "EnvironmentFile= for it (drop-ins: %s), so Kong would start without its "
                              "password; install kong-bootstrap's drop-in as %s.d/kong-bootstrap.conf "
                              "under /etc/systemd/system and run systemctl daemon-reload",
                              unit, config_source(c, CONF_KONG_UNIT), env,
                              config_source(c, CONF_KONG_ENV_FILE), dropins, unit);
        else
                *ret_detail = xasprintf("%s loaded, reads %s (drop-ins: %s)", unit, env, dropins);
        unit_load_info_done(&info);
        return r < 0 ? r : 0;
}

int probe_ca_file(const Config *c, const DbParams *db, char **ret_detail, Error *err)
{
        const char *mode = db->sslmode ?: config_get(c, CONF_PG_SSLMODE);
        const char *ca = db->sslrootcert ?: config_get(c, CONF_PG_SSLROOTCERT);

        if (!streq(mode, "verify-ca") && !streq(mode, "verify-full")) {
                *ret_detail = xasprintf("pg_sslmode %s needs no CA file", mode);
                return 0;
        }
        if (isempty(ca))
                return error_set(err, -EINVAL,
                                 "pg_sslmode %s (from %s) needs pg_sslrootcert, which is empty", mode,
                                 config_source(c, CONF_PG_SSLMODE));
        if (access(ca, R_OK) < 0)
                return error_set(err, -errno,
                                 "pg_sslrootcert '%s' (from %s) cannot be read (%s): install the CA bundle "
                                 "there (RDS: the region's bundle from AWS) or change pg_sslmode (from %s)",
                                 ca, config_source(c, CONF_PG_SSLROOTCERT), strerror(errno),
                                 config_source(c, CONF_PG_SSLMODE));
        *ret_detail = xasprintf("%s readable (pg_sslmode %s)", ca, mode);
        return 0;
}

/* A private copy of kong.conf (no secret in it) for `kong migrations list
 * -c`: beside the env file, where run puts its own staging copy, under
 * another, unique name, so that a check never touches what a running boot
 * uses. Before the unit's first start that directory may not exist yet
 * (RuntimeDirectory=): then in $TMPDIR or /tmp. */
static int write_check_conf(const Config *c, const Buf *kong_conf, char **ret_path, Error *err)
{
        const char *env = config_get(c, CONF_KONG_ENV_FILE);
        const char *slash = strrchr(env, '/');
        _cleanup_free_ char *dir =
                slash && slash != env ? xstrndup(env, (size_t)(slash - env)) : xstrdup("/");
        if (access(dir, W_OK) < 0) {
                const char *tmp = secure_getenv("TMPDIR");
                free(dir);
                dir = xstrdup(!isempty(tmp) ? tmp : "/tmp");
        }
        _cleanup_free_ char *path = xasprintf("%s/kong-check-XXXXXX.conf", dir);
        int fd = mkostemps(path, strlen(".conf"), O_CLOEXEC);

        if (fd < 0)
                return error_set(err, -errno,
                                 "cannot create a temporary kong.conf for kong migrations list in '%s': %s",
                                 dir, strerror(errno));
        size_t done = 0;
        while (done < kong_conf->len) {
                ssize_t n = write(fd, kong_conf->data + done, kong_conf->len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int e = n < 0 ? errno : EIO;
                        (void)close(fd);
                        (void)unlink(path);
                        return error_set(err, -e, "cannot write '%s': %s", path, strerror(e));
                }
                done += (size_t)n;
        }
        if (close(fd) < 0) {
                int e = errno;
                (void)unlink(path);
                return error_set(err, -e, "cannot write '%s': %s", path, strerror(e));
        }
        *ret_path = path;
        path = NULL;
        return 0;
}

int probe_schema(const Config *c, const Buf *kong_conf, const DbParams *db, char **ret_detail, Error *err)
{
        _cleanup_free_ char *conf = NULL;
        int state = -1;
        int r = write_check_conf(c, kong_conf, &conf, err);

        if (r < 0)
                return r;
        if (!conf) /* not reached: for the analyzer, which cannot see error_set() is negative */
                return error_set(err, -EIO, "no temporary kong.conf for kong migrations list");
        const char *args[] = { "migrations", "list", "-c", conf, NULL };
        r = kong_run(config_get(c, CONF_KONG_BIN), args, db, NULL, &state, err);
        (void)unlink(conf);
        if (r < 0)
                return r;
        bool finish_auto = streq(config_get(c, CONF_MIGRATIONS_FINISH), "auto");
        switch (migrations_decide(state, migrations_policy_from_config(c), finish_auto)) {
        case ACTION_FAIL:
                return error_set(err, -EIO,
                                 "'kong migrations list' failed (exit %d: %s); its output is above", state,
                                 kong_schema_state_describe(state));
        case ACTION_REFUSE:
                return error_set(err, -EPERM,
                                 "%s, but migrations = %s (from %s) forbids running it: run would fail",
                                 kong_schema_state_describe(state), config_get(c, CONF_MIGRATIONS),
                                 config_source(c, CONF_MIGRATIONS));
        case ACTION_BOOTSTRAP:
                *ret_detail = xasprintf("%s: run would lead 'kong migrations bootstrap'",
                                        kong_schema_state_describe(state));
                return 0;
        case ACTION_UP:
                *ret_detail = xasprintf("%s: run would lead 'kong migrations up'",
                                        kong_schema_state_describe(state));
                return 0;
        case ACTION_FINISH:
                *ret_detail = xasprintf("%s: run would lead 'kong migrations finish'",
                                        kong_schema_state_describe(state));
                return 0;
        case ACTION_NONE: break;
        }
        *ret_detail = xstrdup(kong_schema_state_describe(state));
        return 0;
}
