/* SPDX-License-Identifier: Apache-2.0 */
#include "render.h"

#include <stdio.h>

int kong_conf_escape(const char *value, Buf *out)
{
        size_t n = strlen(value);

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)value[i];
                if (c < 0x20 || c == 0x7f)
                        return -EINVAL; /* a line cannot hold it */
        }
        /* Kong trims values and joins a line ending in '\' with the next. */
        if (n > 0 && (value[0] == ' ' || value[n - 1] == ' ' || value[n - 1] == '\\'))
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (value[i] == '#')
                        buf_puts(out, "\\#");
                else
                        buf_append(out, &value[i], 1);
        }
        return 0;
}

static bool is_valid_utf8(const unsigned char *s)
{
        while (*s) {
                int n = *s < 0x80             ? 0
                        : (*s & 0xe0) == 0xc0 ? 1
                        : (*s & 0xf0) == 0xe0 ? 2
                        : (*s & 0xf8) == 0xf0 ? 3
                                              : -1;
                if (n < 0)
                        return false;
                s++;
                for (int i = 0; i < n; i++, s++)
                        if ((*s & 0xc0) != 0x80)
                                return false;
        }
        return true;
}

int env_file_quote(const char *value, Buf *out)
{
        /* systemd refuses values that are not UTF-8 or hold control
         * characters (env_value_is_valid()). */
        for (const unsigned char *p = (const unsigned char *)value; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return -EINVAL;
        if (!is_valid_utf8((const unsigned char *)value))
                return -EINVAL;
        buf_puts(out, "\"");
        for (const char *p = value; *p; p++) {
                if (strchr("\"\\`$", *p))
                        buf_puts(out, "\\");
                buf_append(out, p, 1);
        }
        buf_puts(out, "\"");
        return 0;
}

/* Where a pg_* value came from: the config when set there, else the secret. */
static const char *source_of(const Config *c, ConfigKey k)
{
        return config_is_set(c, k) ? config_source(c, k) : "secret";
}

typedef struct Line {
        const char *key;
        char *value;
        const char *source;
} Line;

static void lines_set(Line **lines, size_t *n, const char *key, const char *value, const char *source)
{
        for (size_t i = 0; i < *n; i++)
                if (streq((*lines)[i].key, key)) {
                        free_and_strdup(&(*lines)[i].value, value);
                        (*lines)[i].source = source;
                        return;
                }
        *lines = xrealloc(*lines, (*n + 1) * sizeof(Line));
        (*lines)[(*n)++] = (Line){ key, xstrdup(value), source };
}

int render_kong_conf(const Config *c, const DbParams *db, char *const *vpc_cidrs, Buf *ret, Error *err)
{
        Line *lines = NULL;
        size_t n = 0;
        int r = 0;
        bool ssl = !streq(db->sslmode, "disable");
        bool verify = streq(db->sslmode, "verify-ca") || streq(db->sslmode, "verify-full");
        _cleanup_free_ char *cidrs = strv_join(vpc_cidrs, ", ");
        Buf b = { 0 };

        lines_set(&lines, &n, "database", "postgres", "kong-bootstrap");
        lines_set(&lines, &n, "pg_host", db->host, source_of(c, CONF_PG_HOST));
        lines_set(&lines, &n, "pg_port", db->port, source_of(c, CONF_PG_PORT));
        lines_set(&lines, &n, "pg_user", db->user, source_of(c, CONF_PG_USER));
        lines_set(&lines, &n, "pg_database", db->dbname, source_of(c, CONF_PG_DATABASE));
        if (db->schema)
                lines_set(&lines, &n, "pg_schema", db->schema, config_source(c, CONF_PG_SCHEMA));
        lines_set(&lines, &n, "pg_ssl", ssl ? "on" : "off", config_source(c, CONF_PG_SSLMODE));
        lines_set(&lines, &n, "pg_ssl_verify", verify ? "on" : "off", config_source(c, CONF_PG_SSLMODE));
        if (verify)
                lines_set(&lines, &n, "lua_ssl_trusted_certificate", db->sslrootcert,
                          config_source(c, CONF_PG_SSLROOTCERT));
        lines_set(&lines, &n, "proxy_listen", config_get(c, CONF_PROXY_LISTEN),
                  config_source(c, CONF_PROXY_LISTEN));
        if (strstr(config_get(c, CONF_PROXY_LISTEN), "proxy_protocol"))
                lines_set(&lines, &n, "real_ip_header", "proxy_protocol", "proxy_listen");
        if (config_is_set(c, CONF_TRUSTED_IPS))
                lines_set(&lines, &n, "trusted_ips", config_get(c, CONF_TRUSTED_IPS),
                          config_source(c, CONF_TRUSTED_IPS));
        else
                lines_set(&lines, &n, "trusted_ips", cidrs, "IMDS VPC CIDR blocks");
        lines_set(&lines, &n, "status_listen", config_get(c, CONF_STATUS_LISTEN),
                  config_source(c, CONF_STATUS_LISTEN));
        lines_set(&lines, &n, "admin_listen", config_get(c, CONF_ADMIN_LISTEN),
                  config_source(c, CONF_ADMIN_LISTEN));
        /* An operator's explicit kong.<setting> wins over what we compute. */
        for (size_t i = 0; i < c->n_kong; i++)
                lines_set(&lines, &n, c->kong[i].name, c->kong[i].value, c->kong[i].source);

        buf_puts(&b,
                 "# Written by kong-bootstrap at every boot; edit kong-bootstrap's configuration instead.\n"
                 "# The database password is not here: kong.service reads it from its EnvironmentFile.\n");
        for (size_t i = 0; i < n; i++) {
                buf_printf(&b, "%s = ", lines[i].key);
                if (kong_conf_escape(lines[i].value, &b) < 0) {
                        r = error_set(err, -EINVAL,
                                      "%s (from %s): the value cannot be written to kong.conf (control "
                                      "character, leading or trailing space, or trailing backslash)",
                                      lines[i].key, lines[i].source);
                        break;
                }
                buf_puts(&b, "\n");
        }
        for (size_t i = 0; i < n; i++)
                free(lines[i].value);
        free(lines);
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = b;
        return 0;
}

int render_env_file(const DbParams *db, bool redact, Buf *ret, Error *err)
{
        Buf b = { .secret = true };

        buf_puts(&b, "# Written by kong-bootstrap for kong.service (EnvironmentFile=). Secret: mode 0600, "
                     "tmpfs.\n"
                     "KONG_PG_PASSWORD=");
        if (redact)
                buf_puts(&b, "<redacted>");
        else if (env_file_quote(db->password, &b) < 0) {
                buf_done(&b);
                return error_set(err, -EINVAL,
                                 "the database password from the secret holds a control character or is not "
                                 "UTF-8; systemd's EnvironmentFile= cannot carry it");
        }
        buf_puts(&b, "\n");
        *ret = b;
        return 0;
}
