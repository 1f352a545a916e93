/* SPDX-License-Identifier: Apache-2.0 */
#include "kongsecrets.h"

#include <ctype.h>

#include "json.h"
#include "render.h"

/* Settings kong-bootstrap renders into kong.conf itself: an environment
 * value would silently win over them (Kong reads KONG_* after the file). */
static const char *const computed_settings[] = {
        "database",       "prefix",       "pg_host",       "pg_port",     "pg_user",
        "pg_password",    "pg_database",  "pg_schema",     "pg_ssl",      "pg_ssl_verify",
        "proxy_listen",   "admin_listen", "status_listen", "trusted_ips", "lua_ssl_trusted_certificate",
        "real_ip_header", NULL,
};

/* Certificates and keys Kong takes as PEM content as well as paths, and
 * writes to <prefix>/ssl/ when they are content
 * [kong/cmd/utils/prefix_handler.lua]; the first ones are lists ("array"
 * in kong/conf_loader/constants.lua: split at ','). */
static const char *const pem_list_settings[] = {
        "ssl_cert",           "ssl_cert_key",        "admin_ssl_cert",
        "admin_ssl_cert_key", "admin_gui_ssl_cert",  "admin_gui_ssl_cert_key",
        "status_ssl_cert",    "status_ssl_cert_key", NULL,
};
static const char *const pem_settings[] = {
        "client_ssl_cert", "client_ssl_cert_key", "cluster_cert", "cluster_cert_key",
        "cluster_ca_cert", "ssl_dhparam",         NULL,
};

void kong_secrets_done(KongSecrets *ks)
{
        for (size_t i = 0; i < ks->n_refs; i++) {
                free(ks->refs[i].setting);
                free(ks->refs[i].secret_id);
                free(ks->refs[i].json_key);
                free(ks->refs[i].source);
                secret_free(ks->refs[i].value);
        }
        free(ks->refs);
        for (size_t i = 0; i < ks->n_versions; i++) {
                free(ks->versions[i].secret_id);
                free(ks->versions[i].arn);
                free(ks->versions[i].version_id);
        }
        free(ks->versions);
        *ks = (KongSecrets){ 0 };
}

int kong_secret_ref_parse(const char *setting, const char *value, const char *source, KongSecretRef *ret,
                          Error *err)
{
        _cleanup_free_ char *shown_setting = sanitize_for_log(setting, 64);

        if (strv_contains((char **)computed_settings, setting))
                return error_set(err, -EINVAL,
                                 "kong_secret.%s from %s: kong-bootstrap sets %s itself%s; a secret cannot "
                                 "override it",
                                 shown_setting, source, shown_setting,
                                 streq(setting, "pg_password") ? " (from the secret named by secret_id)"
                                                               : "");
        const char *hash = strchr(value, '#');
        _cleanup_free_ char *id = xstrndup(value, hash ? (size_t)(hash - value) : strlen(value));
        char *stripped_id = strip(id);
        const char *key = hash ? hash + 1 : NULL;
        if (isempty(stripped_id))
                return error_set(err, -EINVAL,
                                 "kong_secret.%s from %s: no secret named (expected SECRET-ID-OR-ARN or "
                                 "SECRET-ID-OR-ARN#JSON-KEY)",
                                 shown_setting, source);
        if (hash && isempty(key))
                return error_set(err, -EINVAL, "kong_secret.%s from %s: nothing after '#' (a JSON key)",
                                 shown_setting, source);
        if (strchr(stripped_id, ' ') || strchr(stripped_id, '\t'))
                return error_set(err, -EINVAL,
                                 "kong_secret.%s from %s: a secret name or ARN has no blanks in it",
                                 shown_setting, source);
        *ret = (KongSecretRef){
                .setting = xstrdup(setting),
                .secret_id = xstrdup(stripped_id),
                .json_key = key ? xstrdup(key) : NULL,
                .source = xstrdup(source),
        };
        return 0;
}

static const char *strip_const_blank(const char *v)
{
        return v + strspn(v, " \t");
}

int kong_secrets_from_config(const Config *c, KongSecrets *ret, Error *err)
{
        KongSecrets ks = { 0 };

        for (size_t i = 0; i < c->n_kong_secrets; i++) {
                const KongSetting *s = &c->kong_secrets[i];
                /* An empty value from a later source takes a mapping back. */
                if (isempty(strip_const_blank(s->value)))
                        continue;
                for (size_t j = 0; j < c->n_kong; j++)
                        if (streq(c->kong[j].name, s->name)) {
                                kong_secrets_done(&ks);
                                return error_set(err, -EINVAL,
                                                 "kong_secret.%s from %s and kong.%s from %s both set %s: "
                                                 "keep one (Kong would take the secret, from its "
                                                 "environment, over kong.conf)",
                                                 s->name, s->source, s->name, c->kong[j].source, s->name);
                        }
                KongSecretRef ref;
                int r = kong_secret_ref_parse(s->name, s->value, s->source, &ref, err);
                if (r < 0) {
                        kong_secrets_done(&ks);
                        return r;
                }
                ks.refs = xrealloc(ks.refs, (ks.n_refs + 1) * sizeof(KongSecretRef));
                ks.refs[ks.n_refs++] = ref;
        }
        *ret = ks;
        return 0;
}

/* Lua's %s in the C locale: what Kong's strip() removes. */
static bool is_lua_blank(char ch)
{
        return ch != '\0' && strchr(" \t\n\v\f\r", ch);
}

static bool is_vault_reference(const char *value)
{
        size_t n = strlen(value);
        return startswith(value, "{vault://") && value[n - 1] == '}';
}

const char *kong_secret_value_problem(const char *setting, char *value)
{
        bool list = strv_contains((char **)pem_list_settings, setting);
        bool pem = list || strv_contains((char **)pem_settings, setting);
        size_t n = strlen(value);

        if (pem)
                while (n > 0 && value[n - 1] == '\n')
                        value[--n] = '\0';
        if (n == 0)
                return "it is empty (Kong would take the setting as unset)";
        if (!pem || !strchr(value, '\n'))
                return kong_env_value_problem(value);

        /* PEM content of several lines: it reaches Kong through the
         * environment and a file Kong writes, never through .kong_env. */
        for (const unsigned char *p = (const unsigned char *)value; *p; p++)
                if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
                        return "it holds a control character other than a line feed (a carriage return? "
                               "store the PEM with LF line ends)";
        if (is_lua_blank(value[0]))
                return "it starts with a blank (Kong trims it)";
        if (is_lua_blank(value[n - 1]))
                return "it ends with a blank (Kong trims it)";
        if (list && strchr(value, ','))
                return "it contains ',', where Kong splits this setting into several certificates (store "
                       "one PEM; drop text before -----BEGIN such as openssl's subject= lines)";
        if (is_vault_reference(value))
                return "it has the form of a vault reference ({vault://…}), which Kong resolves instead of "
                       "using it";
        return NULL;
}

/* KONG_<SETTING>: Kong's conf_loader looks up "KONG_" .. upper(k). */
static char *env_name(const char *setting)
{
        char *name = xasprintf("KONG_%s", setting);
        for (char *p = name; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        return name;
}

/* The value for 'ref' from 'secret': all of it, or the string at its JSON
 * key. The secret's text is never quoted in an error. */
static int pick_value(const KongSecretRef *ref, const SecretValue *secret, char **ret, Error *err)
{
        if (!secret->string)
                return error_set(err, -EBADMSG, "the secret has no value");
        if (!ref->json_key) {
                *ret = xstrdup(secret->string);
                return 0;
        }
        _cleanup_free_ char *key = sanitize_for_log(ref->json_key, 128);
        cJSON *o = cJSON_Parse(secret->string);
        int r = 0;
        if (!cJSON_IsObject(o))
                r = error_set(err, -EBADMSG, "the secret is not a JSON object, so '#%s' picks nothing", key);
        else {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, ref->json_key);
                if (!v)
                        r = error_set(err, -ENOENT, "the secret has no JSON key '%s'", key);
                else if (!cJSON_IsString(v))
                        r = error_set(err, -EBADMSG, "the secret's JSON key '%s' is not a string", key);
                else
                        *ret = xstrdup(v->valuestring);
        }
        cJSON_Delete(o);
        return r;
}

/* Whether 'id' names 'secret', read as 'lead': the same id, or its ARN or
 * name as Secrets Manager gave them (one read at one version stage). */
static bool names_secret(const char *id, const char *lead, const SecretValue *secret)
{
        return streq(id, lead) || (secret->arn && streq(id, secret->arn)) ||
               (secret->name && streq(id, secret->name));
}

static int fetch_one(KongSecrets *ks, size_t first, KongSecretFetchFn fetch, void *userdata, Error *err)
{
        const KongSecretRef *lead = &ks->refs[first];
        _cleanup_free_ char *shown_id = sanitize_for_log(lead->secret_id, 2048);
        _cleanup_free_ char *key = xasprintf("kong_secret.%s", lead->setting);
        SecretValue secret = { 0 };

        int r = fetch(lead->secret_id, key, &secret, userdata, err);
        if (r < 0) {
                error_prefix(err, "kong_secret.%s from %s", lead->setting, lead->source);
                return r;
        }
        for (size_t i = first; i < ks->n_refs; i++) {
                KongSecretRef *ref = &ks->refs[i];
                if (!names_secret(ref->secret_id, lead->secret_id, &secret))
                        continue;
                _cleanup_secret_ char *value = NULL;
                r = pick_value(ref, &secret, &value, err);
                if (r >= 0 && !value)
                        r = error_set(err, -EBADMSG, "the secret has no value");
                if (r < 0 || !value) {
                        error_prefix(err, "kong_secret.%s from %s: secret '%s' (%s)", ref->setting,
                                     ref->source, shown_id, secret.arn);
                        break;
                }
                const char *problem = kong_secret_value_problem(ref->setting, value);
                if (problem) {
                        _cleanup_free_ char *name = env_name(ref->setting);
                        r = error_set(err, -EINVAL,
                                      "kong_secret.%s from %s: the value from secret '%s' (%s) cannot reach "
                                      "Kong exactly as %s: %s",
                                      ref->setting, ref->source, shown_id, secret.arn, name, problem);
                        break;
                }
                secret_free(ref->value);
                ref->value = value;
                value = NULL;
        }
        if (r >= 0) {
                ks->versions = xrealloc(ks->versions, (ks->n_versions + 1) * sizeof(KongSecretVersion));
                ks->versions[ks->n_versions++] = (KongSecretVersion){
                        .secret_id = xstrdup(lead->secret_id),
                        .arn = xstrdup(secret.arn),
                        .version_id = xstrdup(secret.version_id),
                };
        }
        secret_value_done(&secret);
        return r;
}

int kong_secrets_fetch(KongSecrets *ks, KongSecretFetchFn fetch, void *userdata, Error *err)
{
        for (size_t i = 0; i < ks->n_refs; i++) {
                if (ks->refs[i].value)
                        continue; /* its secret was read for an earlier setting */
                int r = fetch_one(ks, i, fetch, userdata, err);
                if (r < 0)
                        return r;
        }
        ks->fetched = true;
        return 0;
}

int kong_secrets_render(const KongSecrets *ks, bool redact, Buf *out, Error *err)
{
        for (size_t i = 0; i < ks->n_refs; i++) {
                const KongSecretRef *ref = &ks->refs[i];
                _cleanup_free_ char *name = env_name(ref->setting);
                if (!ref->value)
                        return error_set(err, -EINVAL, "kong_secret.%s from %s: not read yet", ref->setting,
                                         ref->source);
                buf_printf(out, "%s=", name);
                if (redact)
                        buf_puts(out, "<redacted>");
                else if ((strchr(ref->value, '\n') ? env_file_quote_lines(ref->value, out)
                                                   : env_file_quote(ref->value, out)) < 0) {
                        _cleanup_free_ char *shown_id = sanitize_for_log(ref->secret_id, 2048);
                        return error_set(err, -EINVAL,
                                         "kong_secret.%s from %s: the value from secret '%s' is not UTF-8; "
                                         "systemd's EnvironmentFile= cannot carry it",
                                         ref->setting, ref->source, shown_id);
                }
                buf_puts(out, "\n");
        }
        return 0;
}

char **kong_secrets_moved(const KongSecrets *old, const KongSecrets *new)
{
        char **moved = NULL;

        for (size_t i = 0; i < new->n_versions; i++) {
                const KongSecretVersion *n = &new->versions[i], *o = NULL;
                for (size_t j = 0; j < old->n_versions && !o; j++)
                        if (streq(old->versions[j].secret_id, n->secret_id))
                                o = &old->versions[j];
                if (o && streq(o->version_id, n->version_id))
                        continue;
                _cleanup_free_ char *shown = sanitize_for_log(n->secret_id, 2048);
                strv_push(&moved, xasprintf("%s (version %s -> %s)", shown, o ? o->version_id : "none",
                                            n->version_id));
        }
        return moved;
}
