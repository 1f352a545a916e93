/* SPDX-License-Identifier: Apache-2.0 */
#include "render.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <linux/magic.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <sys/vfs.h>

#include "fileio.h"

#define TEMPLATE_MAX (1024 * 1024)
/* Lua's %s in the C locale: what pl_stringx.strip removes. */
#define KONG_BLANKS " \t\n\v\f\r"

const char *kong_value_problem(const char *value)
{
        size_t n = strlen(value);

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)value[i];
                if (c < 0x20 || c == 0x7f)
                        return "it holds a control character (a kong.conf line cannot)";
        }
        if (n > 0 && isspace((unsigned char)value[0]))
                return "it starts with a blank (Kong trims it)";
        if (n > 0 && isspace((unsigned char)value[n - 1]))
                return "it ends with a blank (Kong trims it)";
        if (n > 0 && value[n - 1] == '\\')
                return "it ends with a backslash (Kong joins the next line)";
        /* Kong reads with list_delim = "_blank_": that text splits a value. */
        if (strstr(value, "_blank_"))
                return "it contains '_blank_', where Kong's reader splits values";
        _cleanup_free_ char *number = kong_number_rewrite(value);
        if (number)
                return "Kong would read it as a number and write it differently";
        return NULL;
}

/* kong/pdk/vault.lua is_reference(): "{vault://" … "}". */
static bool is_vault_reference(const char *value)
{
        size_t n = strlen(value);
        return startswith(value, "{vault://") && value[n - 1] == '}';
}

const char *kong_env_value_problem(const char *value)
{
        const char *problem = kong_value_problem(value);
        if (problem)
                return problem;
        if (is_vault_reference(value))
                return "it has the form of a vault reference ({vault://…}), which Kong resolves instead of "
                       "using it";
        return NULL;
}

/* Lua's tonumber() as LuaJIT's lj_strscan reads a whole string: an
 * optional sign, then decimal (digits, '.', e-exponent), hex (0x, '.',
 * p-exponent), binary (0b) or inf/infinity/nan, blanks around allowed. */
static bool lua_tonumber(const char *s, double *ret)
{
        char *end;
        while (isspace((unsigned char)*s))
                s++;
        const char *p = s;
        bool negative = false;
        if (*p == '+' || *p == '-')
                negative = *p++ == '-';
        size_t n = strlen(p);
        while (n > 0 && isspace((unsigned char)p[n - 1]))
                n--;
        _cleanup_free_ char *body = xstrndup(p, n);

        if (strcasecmp(body, "inf") == 0 || strcasecmp(body, "infinity") == 0) {
                *ret = negative ? -HUGE_VAL : HUGE_VAL;
                return true;
        }
        if (strcasecmp(body, "nan") == 0) {
                *ret = NAN;
                return true;
        }
        if (body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) {
                double v = 0;
                if (body[2] == '\0')
                        return false;
                for (const char *q = body + 2; *q; q++) {
                        if (*q != '0' && *q != '1')
                                return false;
                        v = v * 2 + (*q - '0');
                }
                *ret = negative ? -v : v;
                return true;
        }
        bool hex = body[0] == '0' && (body[1] == 'x' || body[1] == 'X');
        const char *digits = hex ? body + 2 : body;
        bool any_digit = false;
        for (const char *q = digits; *q; q++) {
                if (hex ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q))
                        any_digit = true;
                else if (!strchr(hex ? ".pP+-" : ".eE+-", *q))
                        return false;
        }
        if (!any_digit)
                return false;
        errno = 0;
        double v = strtod(body, &end);
        if (end == body || *end != '\0')
                return false;
        *ret = negative ? -v : v;
        return true;
}

static char *lua_tostring(double d)
{
        char text[64];
        snprintf(text, sizeof(text), "%.14g", d); /* LuaJIT's lj_strfmt_num */
        return xstrdup(text);
}

/* Penlight's pl.config (convert_numbers, the default) passes every value
 * that starts with a digit, '+' or '-' to tonumber(); if that fails and
 * the value ends in " kB", it removes every " kB" and tries again, keeping
 * the shortened text either way. Kong then turns numbers back into text
 * with tostring(). A value whose text does not survive that is returned
 * as Kong would see it; NULL when it survives. */
char *kong_number_rewrite(const char *value)
{
        double d;

        if (!(isdigit((unsigned char)value[0]) || value[0] == '-' || value[0] == '+'))
                return NULL;
        if (lua_tonumber(value, &d)) {
                char *text = lua_tostring(d);
                /* NaN's sign and spelling vary: never trust it to survive. */
                if (streq(text, value) && !isnan(d)) {
                        free(text);
                        return NULL;
                }
                return text;
        }
        size_t n = strlen(value);
        if (n >= 3 && streq(value + n - 3, " kB")) {
                char *stripped = str_replace_all(value, " kB", "");
                if (lua_tonumber(stripped, &d)) {
                        free(stripped);
                        return lua_tostring(d);
                }
                return stripped;
        }
        return NULL;
}

int kong_conf_escape(const char *value, Buf *out)
{
        if (!value || kong_value_problem(value))
                return -EINVAL;
        for (const char *p = value; *p; p++) {
                if (*p == '#')
                        buf_puts(out, "\\#");
                else
                        buf_append(out, p, 1);
        }
        return 0;
}

static bool listen_flag_ok(const char *flag)
{
        static const char *const plain[] = { "ssl",       "http2", "proxy_protocol", "deferred", "bind",
                                             "reuseport", NULL };
        uint64_t n;

        if (strv_contains((char **)plain, flag))
                return true;
        if (startswith(flag, "backlog="))
                return parse_uint64(flag + strlen("backlog="), &n) >= 0 && n > 0;
        if (startswith(flag, "ipv6only="))
                return streq(flag + 9, "on") || streq(flag + 9, "off");
        if (startswith(flag, "so_keepalive="))
                return flag[strlen("so_keepalive=")] != '\0';
        return false;
}

static bool listen_address_ok(const char *addr)
{
        unsigned char buf[16];
        const char *colon = strrchr(addr, ':');
        uint16_t port;

        if (!colon || parse_port(colon + 1, &port) < 0)
                return false;
        _cleanup_free_ char *host = xstrndup(addr, (size_t)(colon - addr));
        if (streq(host, "*") || inet_pton(AF_INET, host, buf) == 1)
                return true;
        size_t n = strlen(host);
        if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
                host[n - 1] = '\0';
                return inet_pton(AF_INET6, host + 1, buf) == 1;
        }
        if (n == 0)
                return false;
        for (const char *p = host; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
                        return false;
        return true;
}

char *kong_listen_problem(const char *value)
{
        _cleanup_free_ char *copy = xstrdup(value);
        char *save = NULL;
        size_t entries = 0;

        if (!value || streq(value, "off"))
                return NULL;
        for (char *entry = strtok_r(copy, ",", &save); entry; entry = strtok_r(NULL, ",", &save)) {
                char *save2 = NULL;
                entries++;
                char *addr = strtok_r(entry, " \t", &save2);
                if (!addr || !listen_address_ok(addr)) {
                        _cleanup_free_ char *shown = sanitize_for_log(addr ? addr : "", 80);
                        return xasprintf("'%s' is not ADDRESS:PORT", shown);
                }
                for (char *flag = strtok_r(NULL, " \t", &save2); flag; flag = strtok_r(NULL, " \t", &save2))
                        if (!listen_flag_ok(flag)) {
                                _cleanup_free_ char *shown = sanitize_for_log(flag, 80);
                                return xasprintf("'%s' is not a listener flag Kong knows (ssl, http2, "
                                                 "proxy_protocol, deferred, bind, reuseport, backlog=N, "
                                                 "ipv6only=on|off, so_keepalive=…)",
                                                 shown);
                        }
        }
        return entries ? NULL : xstrdup("no listener given (use 'off' to disable)");
}

char *kong_ip_list_problem(const char *value)
{
        _cleanup_free_ char *copy = xstrdup(value);
        char *save = NULL;
        unsigned char buf[16];

        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *ip = strip(t);
                if (streq(ip, "unix:") || cidr_is_valid(ip) || inet_pton(AF_INET, ip, buf) == 1 ||
                    inet_pton(AF_INET6, ip, buf) == 1)
                        continue;
                _cleanup_free_ char *shown = sanitize_for_log(ip, 80);
                return xasprintf("'%s' is not an address, a CIDR block or 'unix:'", shown);
        }
        return NULL;
}

/* Kong settings that are flags: written as on/off. */
static bool is_boolean_setting(const char *key)
{
        static const char *const names[] = { "anonymous_reports",
                                             "pg_ssl",
                                             "pg_ssl_verify",
                                             "real_ip_recursive",
                                             "nginx_daemon",
                                             "nginx_main_daemon",
                                             "ssl_prefer_server_ciphers",
                                             "ssl_session_tickets",
                                             "allow_debug_header",
                                             "proxy_server_ssl_verify",
                                             "cluster_ocsp",
                                             "cluster_use_proxy",
                                             "client_ssl",
                                             NULL };
        return strv_contains((char **)names, key);
}

/* systemd's utf8_is_valid(): shortest-form sequences of valid code
 * points only (unichar_is_valid(): no surrogates, nothing past U+10FFFF,
 * no U+FDD0..U+FDEF, no U+xFFFE/U+xFFFF). */
static bool is_valid_utf8(const unsigned char *s)
{
        while (*s) {
                uint32_t ch;
                int n;
                if (*s < 0x80) {
                        s++;
                        continue;
                } else if ((*s & 0xe0) == 0xc0)
                        n = 1, ch = *s & 0x1f;
                else if ((*s & 0xf0) == 0xe0)
                        n = 2, ch = *s & 0x0f;
                else if ((*s & 0xf8) == 0xf0)
                        n = 3, ch = *s & 0x07;
                else
                        return false;
                s++;
                for (int i = 0; i < n; i++, s++) {
                        if ((*s & 0xc0) != 0x80)
                                return false;
                        ch = (ch << 6) | (*s & 0x3f);
                }
                uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
                if (ch < min || ch >= 0x110000 || (ch & 0xfffff800) == 0xd800 ||
                    (ch >= 0xfdd0 && ch <= 0xfdef) || (ch & 0xfffe) == 0xfffe)
                        return false;
        }
        return true;
}

static int env_file_quote_internal(const char *value, bool newlines, Buf *out)
{
        /* systemd refuses values that are not UTF-8; we also refuse control
         * characters, but for line feeds where the caller allows them
         * (inside "…" systemd's parser keeps them, and env_value_is_valid()
         * of systemd 252 accepts them). */
        for (const unsigned char *p = (const unsigned char *)value; *p; p++)
                if ((*p < 0x20 && !(newlines && *p == '\n')) || *p == 0x7f)
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

int env_file_quote(const char *value, Buf *out)
{
        return env_file_quote_internal(value, false, out);
}

int env_file_quote_lines(const char *value, Buf *out)
{
        return env_file_quote_internal(value, true, out);
}

typedef struct Line {
        char *key;
        char *value;
        char *source;
} Line;

typedef struct Lines {
        Line *items;
        size_t n;
} Lines;

static void lines_set(Lines *l, const char *key, const char *value, const char *source)
{
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].key, key)) {
                        free_and_strdup(&l->items[i].value, value ?: "");
                        free_and_strdup(&l->items[i].source, source ?: "?");
                        return;
                }
        l->items = xrealloc(l->items, (l->n + 1) * sizeof(Line));
        l->items[l->n++] = (Line){ xstrdup(key), xstrdup(value ?: ""), xstrdup(source ?: "?") };
}

static void lines_done(Lines *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].key);
                free(l->items[i].value);
                free(l->items[i].source);
        }
        free(l->items);
        *l = (Lines){ 0 };
}

/* Where a pg_* value came from: the config when set there, else the secret. */
static const char *source_of(const Config *c, ConfigKey k)
{
        return config_is_set(c, k) ? config_source(c, k) : "secret";
}

static int add_template_line(const char *key, const char *value, const char *source, void *userdata,
                             Error *err)
{
        if (streq(key, "pg_password") || streq(key, "pg_ro_password"))
                return error_set(
                        err, -EINVAL,
                        "%s: the template sets %s; the password comes from the secret and goes to the "
                        "env file only",
                        source, key);
        lines_set(userdata, key, value, source);
        return 0;
}

static int add_template(Lines *l, const Config *c, Error *err)
{
        const char *path = config_get(c, CONF_KONG_CONF_TEMPLATE);
        _cleanup_buf_ Buf text = { 0 };

        int r = read_file_limited(path, TEMPLATE_MAX, &text, err);
        if (r < 0) {
                error_prefix(err, "kong_conf_template (from %s)", config_source(c, CONF_KONG_CONF_TEMPLATE));
                return r;
        }
        return kong_conf_parse(text.data, text.len, path, add_template_line, l, err);
}

/* Whether Kong's comma list holds item: Kong's conf_loader splits an
 * "array" setting at every ',' and strips each item (pl_stringx.split,
 * pl_stringx.strip). */
static bool kong_list_contains(const char *list, const char *item)
{
        size_t n = strlen(item);
        for (const char *p = list;;) {
                p += strspn(p, KONG_BLANKS);
                size_t len = strcspn(p, ",");
                while (len > 0 && strchr(KONG_BLANKS, p[len - 1]))
                        len--;
                if (len == n && strneq(p, item, n))
                        return true;
                p = strchr(p, ',');
                if (!p)
                        return false;
                p++;
        }
}

/* Adds the database's CA to Kong's lua_ssl_trusted_certificate instead of
 * putting it in the place of Kong's default "system" (the OS bundle):
 * plugins and vaults that verify public TLS peers need that store, and Kong
 * combines every listed file into <prefix>/.ca_combined. An operator's own
 * list (template or kong.<setting>) is kept as written and the CA appended
 * unless it is already listed. */
static int add_database_ca(Lines *l, const char *ca, const char *ca_source, Error *err)
{
        if (strchr(ca, ','))
                return error_set(err, -EINVAL,
                                 "pg_sslrootcert '%s' (from %s) contains a comma: Kong reads "
                                 "lua_ssl_trusted_certificate as a comma-separated list",
                                 ca, ca_source);
        const Line *own = NULL;
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].key, "lua_ssl_trusted_certificate"))
                        own = &l->items[i];
        if (own && kong_list_contains(own->value, ca))
                return 0;

        /* An empty value is no list at all to Kong (unset, no CA): the CA alone. */
        bool empty = own && own->value[strspn(own->value, KONG_BLANKS)] == '\0';
        _cleanup_free_ char *value = own ? (empty ? xstrdup(ca) : xasprintf("%s,%s", own->value, ca))
                                         : xasprintf("system,%s", ca);
        _cleanup_free_ char *source =
                own ? xasprintf("%s, plus pg_sslrootcert (from %s)", own->source, ca_source)
                    : xasprintf("Kong's default system, plus pg_sslrootcert (from %s)", ca_source);
        lines_set(l, "lua_ssl_trusted_certificate", value, source);
        return 0;
}

static int check_line(const Line *line, Error *err)
{
        _cleanup_free_ char *problem = NULL;
        const char *static_problem = kong_value_problem(line->value);

        if (static_problem)
                return error_set(err, -EINVAL, "%s (from %s): %s", line->key, line->source, static_problem);
        size_t n = strlen(line->key);
        if (n > 7 && streq(line->key + n - 7, "_listen"))
                problem = kong_listen_problem(line->value);
        else if (streq(line->key, "trusted_ips"))
                problem = kong_ip_list_problem(line->value);
        else if (is_boolean_setting(line->key) && line->value && !streq(line->value, "on") &&
                 !streq(line->value, "off"))
                problem = xstrdup("expected on or off");
        if (problem)
                return error_set(err, -EINVAL, "%s (from %s): %s", line->key, line->source, problem);
        return 0;
}

int render_kong_conf(const Config *c, const DbParams *db, char *const *vpc_cidrs, bool provenance, Buf *ret,
                     Error *err)
{
        Lines lines = { 0 };
        bool ssl = !streq(db->sslmode, "disable");
        bool verify = streq(db->sslmode, "verify-ca") || streq(db->sslmode, "verify-full");
        _cleanup_free_ char *cidrs = strv_join(vpc_cidrs, ", ");
        Buf b = { 0 };
        int r = 0;

        /* 1. What kong-bootstrap computes. */
        if (config_is_set(c, CONF_KONG_PREFIX))
                lines_set(&lines, "prefix", config_get(c, CONF_KONG_PREFIX),
                          config_source(c, CONF_KONG_PREFIX));
        lines_set(&lines, "database", "postgres", "kong-bootstrap");
        lines_set(&lines, "pg_host", db->host, source_of(c, CONF_PG_HOST));
        lines_set(&lines, "pg_port", db->port, source_of(c, CONF_PG_PORT));
        lines_set(&lines, "pg_user", db->user, source_of(c, CONF_PG_USER));
        lines_set(&lines, "pg_database", db->dbname, source_of(c, CONF_PG_DATABASE));
        if (db->schema)
                lines_set(&lines, "pg_schema", db->schema, config_source(c, CONF_PG_SCHEMA));
        lines_set(&lines, "pg_ssl", ssl ? "on" : "off", config_source(c, CONF_PG_SSLMODE));
        lines_set(&lines, "pg_ssl_verify", verify ? "on" : "off", config_source(c, CONF_PG_SSLMODE));
        lines_set(&lines, "proxy_listen", config_get(c, CONF_PROXY_LISTEN),
                  config_source(c, CONF_PROXY_LISTEN));
        if (config_is_set(c, CONF_TRUSTED_IPS))
                lines_set(&lines, "trusted_ips", config_get(c, CONF_TRUSTED_IPS),
                          config_source(c, CONF_TRUSTED_IPS));
        else
                lines_set(&lines, "trusted_ips", cidrs, "IMDS (the VPC's CIDR blocks)");
        lines_set(&lines, "status_listen", config_get(c, CONF_STATUS_LISTEN),
                  config_source(c, CONF_STATUS_LISTEN));
        lines_set(&lines, "admin_listen", config_get(c, CONF_ADMIN_LISTEN),
                  config_source(c, CONF_ADMIN_LISTEN));

        /* 2. The operator's template, 3. kong.<setting> keys: explicit wins. */
        if (config_is_set(c, CONF_KONG_CONF_TEMPLATE) && (r = add_template(&lines, c, err)) < 0)
                goto out;
        for (size_t i = 0; i < c->n_kong; i++)
                lines_set(&lines, c->kong[i].name, c->kong[i].value, c->kong[i].source);
        if (verify &&
            (r = add_database_ca(&lines, db->sslrootcert, config_source(c, CONF_PG_SSLROOTCERT), err)) < 0)
                goto out;

        /* PROXY protocol on the final listeners means the client address
         * comes from its header, unless the operator chose otherwise. */
        const char *proxy_listen = NULL;
        bool have_real_ip_header = false;
        for (size_t i = 0; i < lines.n; i++) {
                if (streq(lines.items[i].key, "proxy_listen"))
                        proxy_listen = lines.items[i].value;
                have_real_ip_header = have_real_ip_header || streq(lines.items[i].key, "real_ip_header");
        }
        if (proxy_listen && strstr(proxy_listen, "proxy_protocol") && !have_real_ip_header)
                lines_set(&lines, "real_ip_header", "proxy_protocol", "proxy_listen carries proxy_protocol");

        buf_puts(&b,
                 "# Written by kong-bootstrap at every boot; edit kong-bootstrap's configuration instead.\n"
                 "# The database password is not here: kong.service reads it from its EnvironmentFile.\n");
        for (size_t i = 0; i < lines.n; i++) {
                r = check_line(&lines.items[i], err);
                if (r < 0)
                        goto out;
                if (provenance)
                        buf_printf(&b, "# from %s\n", lines.items[i].source);
                buf_printf(&b, "%s = ", lines.items[i].key);
                kong_conf_escape(lines.items[i].value, &b);
                buf_puts(&b, "\n");
        }
out:
        lines_done(&lines);
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
        const char *problem = kong_env_value_problem(db->password);
        if (problem) {
                buf_done(&b);
                return error_set(err, -EINVAL,
                                 "the database password from the secret cannot reach Kong's workers "
                                 "exactly: %s. Kong re-reads its settings from <prefix>/.kong_env, so "
                                 "migrations would succeed and the node fail at readiness. Rotate the "
                                 "secret to a password without this (rotation functions and "
                                 "GetRandomPassword: ExcludeCharacters with '\\', IncludeSpace off; see "
                                 "docs/operations.md, \"Passwords Kong carries exactly\")",
                                 problem);
        }
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

int env_file_location_check(const char *path, const char *source, Error *err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        struct statfs sfs;

        /* The directory may not exist yet: judge by the nearest that does. */
        for (;;) {
                char *slash = strrchr(dir, '/');
                if (!slash)
                        return error_set(err, -EINVAL,
                                         "kong_env_file '%s' (from %s) is not an absolute path", path,
                                         source);
                if (slash == dir)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                if (statfs(dir, &sfs) == 0)
                        break;
                if (errno != ENOENT || streq(dir, "/"))
                        return error_set(err, -errno, "cannot inspect '%s' for kong_env_file: %s", dir,
                                         strerror(errno));
        }
        if (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)
                return 0;
        return error_set(
                err, -EPERM,
                "kong_env_file '%s' (from %s) is not on tmpfs (%s is on a persistent file system): the "
                "database password must not reach a disk; use a path under /run",
                path, source, dir);
}

static char **split_lines(const char *s)
{
        char **l = NULL;
        while (*s) {
                size_t n = strcspn(s, "\n");
                strv_push(&l, xstrndup(s, n));
                s += n + (s[n] == '\n');
        }
        return l;
}

char *render_diff(const char *old, const char *new)
{
        _cleanup_strv_ char **a = split_lines(old), **b = split_lines(new);
        size_t n = strv_length(a), m = strv_length(b);
        _cleanup_free_ size_t *lcs = xcalloc((n + 1) * (m + 1), sizeof(size_t));
        _cleanup_buf_ Buf out = { 0 };

#define L(i, j) lcs[(i) * (m + 1) + (j)]
        for (size_t i = n; i-- > 0;)
                for (size_t j = m; j-- > 0;)
                        L(i, j) = streq(a[i], b[j])
                                          ? L(i + 1, j + 1) + 1
                                          : (L(i + 1, j) > L(i, j + 1) ? L(i + 1, j) : L(i, j + 1));
        size_t i = 0, j = 0;
        buf_puts(&out, "");
        while (i < n || j < m) {
                if (i < n && j < m && streq(a[i], b[j])) {
                        buf_printf(&out, " %s\n", a[i]);
                        i++, j++;
                } else if (i < n && (j == m || L(i + 1, j) >= L(i, j + 1)))
                        buf_printf(&out, "-%s\n", a[i++]);
                else
                        buf_printf(&out, "+%s\n", b[j++]);
        }
#undef L
        return buf_steal(&out);
}
