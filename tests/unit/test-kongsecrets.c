/* SPDX-License-Identifier: Apache-2.0 */
#include "kongsecrets.h"
#include "test.h"

static Config *fresh(void)
{
        Config *c;
        config_new(&c);
        return c;
}

static void test_parse_ref(void)
{
        KongSecretRef ref;
        Error err = { "" };

        CHECK(kong_secret_ref_parse("license_data", "prod/kong/license", "/etc/x.conf:1", &ref, &err) == 0);
        CHECK_STREQ(ref.setting, "license_data");
        CHECK_STREQ(ref.secret_id, "prod/kong/license");
        CHECK(ref.json_key == NULL);
        CHECK_STREQ(ref.source, "/etc/x.conf:1");
        KongSecrets one = { .refs = &ref, .n_refs = 1 };
        KongSecrets copy = one;
        copy.refs = xmalloc(sizeof(KongSecretRef));
        copy.refs[0] = ref;
        kong_secrets_done(&copy);

        const char *arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/kong/tls-AbCdEf";
        _cleanup_free_ char *with_key = xasprintf("  %s#cert  ", arn);
        CHECK(kong_secret_ref_parse("ssl_cert", with_key, "--set", &ref, &err) == 0);
        CHECK_STREQ(ref.secret_id, arn);
        CHECK_STREQ(ref.json_key, "cert  "); /* a JSON key is taken as written */
        copy.refs = xmalloc(sizeof(KongSecretRef));
        copy.refs[0] = ref;
        copy.n_refs = 1;
        kong_secrets_done(&copy);

        CHECK(kong_secret_ref_parse("ssl_cert", "", "src", &ref, &err) == -EINVAL);
        CHECK_CONTAINS(err.msg, "kong_secret.ssl_cert from src: no secret named");
        CHECK(kong_secret_ref_parse("ssl_cert", "#cert", "src", &ref, &err) == -EINVAL);
        CHECK(kong_secret_ref_parse("ssl_cert", "prod/tls#", "src", &ref, &err) == -EINVAL);
        CHECK_CONTAINS(err.msg, "nothing after '#'");
        CHECK(kong_secret_ref_parse("ssl_cert", "prod tls", "src", &ref, &err) == -EINVAL);
        CHECK(kong_secret_ref_parse("pg_password", "prod/db#password", "src", &ref, &err) == -EINVAL);
        CHECK_CONTAINS(err.msg, "kong-bootstrap sets pg_password itself");
        CHECK(kong_secret_ref_parse("status_listen", "x", "src", &ref, &err) == -EINVAL);
        CHECK_CONTAINS(err.msg, "kong_secret.status_listen from src");
}

static void test_config_keys_and_trust(void)
{
        Config *c = fresh();
        Error err = { "" };
        const char *text = "kong_secret.license_data = prod/kong/license\n"
                           "kong_secret.ssl_cert = prod/kong/tls\\#cert   # the proxy's pair\n"
                           "kong_secret.ssl_cert_key = prod/kong/tls\\#key\n";

        CHECK(config_load_text(c, CONFIG_LAYER_FILE, text, strlen(text), "/etc/x.conf", &err) == 0);
        CHECK(c->n_kong_secrets == 3);
        KongSecrets ks = { 0 };
        CHECK(kong_secrets_from_config(c, &ks, &err) == 0);
        CHECK(ks.n_refs == 3);
        CHECK_STREQ(ks.refs[1].secret_id, "prod/kong/tls");
        CHECK_STREQ(ks.refs[1].json_key, "cert");
        CHECK_STREQ(ks.refs[2].source, "/etc/x.conf:3");
        kong_secrets_done(&ks);

        /* A '#' glued to the secret id is a comment here: refused, not a
         * whole secret silently handed to Kong. */
        const char *glued = "kong_secret.ssl_cert = prod/kong/tls#cert\n";
        CHECK(config_load_text(c, CONFIG_LAYER_FILE, glued, strlen(glued), "/etc/y.conf", &err) == -EINVAL);
        CHECK_CONTAINS(err.msg, "/etc/y.conf:1");
        CHECK_CONTAINS(err.msg, "\\#");

        /* Never from a tag; from user-data, the environment and --set. */
        CHECK(config_set(c, CONFIG_LAYER_TAG, "kong_secret.ssl_cert", "evil/tls", "instance tag x", &err) ==
              -EPERM);
        CHECK_CONTAINS(err.msg, "cannot be set by an instance tag");
        CHECK(config_check_permitted(CONFIG_LAYER_TAG, "kong_secret.license_data", "tag", &err) == -EPERM);
        CHECK(config_check_permitted(CONFIG_LAYER_USERDATA, "kong_secret.license_data", "ud", &err) == 0);
        CHECK(config_set(c, CONFIG_LAYER_USERDATA, "kong_secret.license_data", "ud/license",
                         "user-data line 1", &err) == 0);
        char *envp[] = { "KONG_BOOTSTRAP_KONG_SECRET_CLUSTER_CERT=prod/cp#cert", NULL };
        CHECK(config_load_environ(c, envp, &err) == 0);
        CHECK(config_load_assignment(c, "kong_secret.Bad = x", &err) == -EINVAL);
        CHECK(kong_secrets_from_config(c, &ks, &err) == 0);
        CHECK(ks.n_refs == 4);
        CHECK_STREQ(ks.refs[0].secret_id, "ud/license"); /* user-data over the file */
        CHECK_STREQ(ks.refs[3].setting, "cluster_cert");
        CHECK_STREQ(ks.refs[3].json_key, "cert");
        CHECK_STREQ(ks.refs[3].source, "environment KONG_BOOTSTRAP_KONG_SECRET_CLUSTER_CERT");
        kong_secrets_done(&ks);

        /* An empty value from a later source takes a mapping back. */
        CHECK(config_load_assignment(c, "kong_secret.cluster_cert=", &err) == 0);
        CHECK(kong_secrets_from_config(c, &ks, &err) == 0);
        CHECK(ks.n_refs == 3);
        kong_secrets_done(&ks);

        /* The same setting in kong.conf and from a secret: refused. */
        CHECK(config_load_assignment(c, "kong.ssl_cert=/etc/kong/cert.pem", &err) == 0);
        CHECK(kong_secrets_from_config(c, &ks, &err) == -EINVAL);
        CHECK_CONTAINS(err.msg, "kong_secret.ssl_cert from /etc/x.conf:2 and kong.ssl_cert from --set");
        config_free(c);
}

static const char PEM[] = "-----BEGIN CERTIFICATE-----\n"
                          "MIIBszCCAVmgAwIBAgIUQ+/a\n"
                          "-----END CERTIFICATE-----\n";

static void test_value_problems(void)
{
        _cleanup_free_ char *pem = xstrdup(PEM);
        CHECK(kong_secret_value_problem("ssl_cert", pem) == NULL);
        CHECK(pem[strlen(pem) - 1] == '-'); /* the trailing line feed dropped, as Kong would */
        _cleanup_free_ char *pem2 = xasprintf("%s\n\n", PEM);
        CHECK(kong_secret_value_problem("cluster_cert_key", pem2) == NULL);
        CHECK(strlen(pem2) == strlen(PEM) - 1);

        /* Multi-line content only where Kong takes PEM content. */
        _cleanup_free_ char *not_pem = xstrdup(PEM);
        CHECK_CONTAINS(kong_secret_value_problem("admin_gui_session_conf", not_pem), "control character");
        _cleanup_free_ char *crlf = xstrdup("-----BEGIN X-----\r\nAA\r\n-----END X-----\r\n");
        CHECK_CONTAINS(kong_secret_value_problem("ssl_cert", crlf), "carriage return");
        _cleanup_free_ char *lead = xasprintf(" %s", PEM);
        CHECK_CONTAINS(kong_secret_value_problem("ssl_cert", lead), "starts with a blank");
        _cleanup_free_ char *trail = xasprintf("%s \n", PEM);
        CHECK_CONTAINS(kong_secret_value_problem("cluster_cert", trail), "ends with a blank");
        _cleanup_free_ char *comma = xasprintf("subject=C = US, O = x\n%s", PEM);
        CHECK_CONTAINS(kong_secret_value_problem("ssl_cert", comma), "','");
        _cleanup_free_ char *comma_ok = xasprintf("subject=C = US, O = x\n%s", PEM);
        CHECK(kong_secret_value_problem("cluster_cert", comma_ok) == NULL); /* not a list */

        /* Single-line values: the password's rules (.kong_env). */
        char license[] = "{\"license\":{\"payload\":{\"customer\":\"A#1\"},\"signature\":\"ab\"}}";
        CHECK(kong_secret_value_problem("license_data", license) == NULL);
        char spaced[] = "{\"a\":1} ";
        CHECK_CONTAINS(kong_secret_value_problem("license_data", spaced), "ends with a blank");
        char number[] = "0123";
        CHECK_CONTAINS(kong_secret_value_problem("keyring_recovery_public_key", number), "number");
        char backslash[] = "abc\\";
        CHECK_CONTAINS(kong_secret_value_problem("admin_gui_session_conf", backslash), "backslash");
        char vault[] = "{vault://aws/x}";
        CHECK_CONTAINS(kong_secret_value_problem("license_data", vault), "vault");
        char empty[] = "";
        CHECK_CONTAINS(kong_secret_value_problem("license_data", empty), "empty");
        char only_newline[] = "\n";
        CHECK_CONTAINS(kong_secret_value_problem("ssl_cert", only_newline), "empty");
}

typedef struct FakeSecrets {
        unsigned calls;
        const char *ids[4];
        const char *strings[4];
        char last_key[64]; /* the setting the last fetch was for */
} FakeSecrets;

static int fake_fetch(const char *id, const char *key, SecretValue *ret, void *userdata, Error *err)
{
        FakeSecrets *f = userdata;
        f->calls++;
        (void)snprintf(f->last_key, sizeof(f->last_key), "%s", key);
        for (size_t i = 0; i < 4 && f->ids[i]; i++)
                if (streq(f->ids[i], id)) {
                        *ret = (SecretValue){ .arn = xasprintf("arn:%s", id),
                                              .name = xstrdup(id),
                                              .version_id = xstrdup("v1"),
                                              .string = xstrdup(f->strings[i]) };
                        return 0;
                }
        return error_set(err, -EPROTO, "GetSecretValue for '%s' failed: no secret '%s'", id, id);
}

static KongSecrets refs_of(const char *text)
{
        Config *c = fresh();
        Error err = { "" };
        KongSecrets ks = { 0 };
        CHECK(config_load_text(c, CONFIG_LAYER_FILE, text, strlen(text), "/etc/k.conf", &err) == 0);
        CHECK(kong_secrets_from_config(c, &ks, &err) == 0);
        config_free(c);
        return ks;
}

static void test_fetch_render(void)
{
        _cleanup_free_ char *tls =
                xasprintf("{\"cert\":\"%s\",\"key\":\"-----BEGIN PRIVATE "
                          "KEY-----\\nk$`\\\"\\\\y\\n-----END PRIVATE KEY-----\\n\"}",
                          "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n");
        FakeSecrets f = { .ids = { "tls", "lic" }, .strings = { tls, "{\"license\":1}" } };
        Error err = { "" };
        KongSecrets ks = refs_of("kong_secret.ssl_cert = tls\\#cert\n"
                                 "kong_secret.license_data = lic\n"
                                 "kong_secret.ssl_cert_key = tls\\#key\n");

        CHECK(kong_secrets_fetch(&ks, fake_fetch, &f, &err) == 0);
        CHECK(f.calls == 2); /* one GetSecretValue per distinct secret */
        CHECK(ks.n_versions == 2);
        CHECK_STREQ(ks.refs[0].value, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
        Buf b = { .secret = true };
        CHECK(kong_secrets_render(&ks, false, &b, &err) == 0);
        CHECK_STREQ(b.data,
                    "KONG_SSL_CERT=\"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\"\n"
                    "KONG_LICENSE_DATA=\"{\\\"license\\\":1}\"\n"
                    "KONG_SSL_CERT_KEY=\"-----BEGIN PRIVATE KEY-----\nk\\$\\`\\\"\\\\y\n"
                    "-----END PRIVATE KEY-----\"\n");
        buf_done(&b);
        CHECK(kong_secrets_render(&ks, true, &b, &err) == 0);
        CHECK_STREQ(
                b.data,
                "KONG_SSL_CERT=<redacted>\nKONG_LICENSE_DATA=<redacted>\nKONG_SSL_CERT_KEY=<redacted>\n");
        buf_done(&b);

        /* Rotation: which secrets moved. */
        KongSecrets again = refs_of("kong_secret.ssl_cert = tls\\#cert\n"
                                    "kong_secret.license_data = lic\n"
                                    "kong_secret.ssl_cert_key = tls\\#key\n");
        CHECK(kong_secrets_fetch(&again, fake_fetch, &f, &err) == 0);
        CHECK(kong_secrets_moved(&ks, &again) == NULL);
        free_and_strdup(&again.versions[1].version_id, "v2");
        char **moved = kong_secrets_moved(&ks, &again);
        CHECK(moved && moved[0] && !moved[1]);
        CHECK_STREQ(moved ? moved[0] : NULL, "lic (version v1 -> v2)");
        strv_free(moved);
        kong_secrets_done(&again);
        kong_secrets_done(&ks);

        /* The same secret named by id and by the ARN its read returned:
         * read once. */
        f.calls = 0;
        ks = refs_of("kong_secret.ssl_cert = tls\\#cert\n"
                     "kong_secret.ssl_cert_key = arn:tls\\#key\n");
        CHECK(kong_secrets_fetch(&ks, fake_fetch, &f, &err) == 0);
        CHECK(f.calls == 1);
        CHECK(ks.n_versions == 1);
        CHECK(ks.refs[1].value && startswith(ks.refs[1].value, "-----BEGIN PRIVATE KEY-----"));
        kong_secrets_done(&ks);

        /* Errors name the setting, its source and the secret, never the value. */
        ks = refs_of("kong_secret.ssl_cert = tls\\#crt\n");
        CHECK(kong_secrets_fetch(&ks, fake_fetch, &f, &err) == -ENOENT);
        CHECK_CONTAINS(err.msg, "kong_secret.ssl_cert from /etc/k.conf:1: secret 'tls' (arn:tls)");
        CHECK_CONTAINS(err.msg, "has no JSON key 'crt'");
        CHECK(!strstr(err.msg, "MIIB"));
        kong_secrets_done(&ks);
        ks = refs_of("kong_secret.license_data = lic\\#license\n");
        CHECK(kong_secrets_fetch(&ks, fake_fetch, &f, &err) == -EBADMSG);
        CHECK_CONTAINS(err.msg, "JSON key 'license' is not a string");
        kong_secrets_done(&ks);
        ks = refs_of("kong_secret.license_data = nope\n");
        CHECK(kong_secrets_fetch(&ks, fake_fetch, &f, &err) == -EPROTO);
        CHECK_CONTAINS(err.msg,
                       "kong_secret.license_data from /etc/k.conf:1: GetSecretValue for 'nope' failed");
        CHECK_STREQ(f.last_key, "kong_secret.license_data"); /* the caller's hints name it */
        kong_secrets_done(&ks);
        FakeSecrets bad = { .ids = { "lic" }, .strings = { "{\"license\":1} " } };
        ks = refs_of("kong_secret.license_data = lic\n");
        CHECK(kong_secrets_fetch(&ks, fake_fetch, &bad, &err) == -EINVAL);
        CHECK_CONTAINS(err.msg, "kong_secret.license_data from /etc/k.conf:1: the value from secret 'lic' "
                                "(arn:lic) cannot reach Kong exactly as KONG_LICENSE_DATA");
        kong_secrets_done(&ks);
}

int main(void)
{
        json_install_wiping_hooks();
        RUN(test_parse_ref);
        RUN(test_config_keys_and_trust);
        RUN(test_value_problems);
        RUN(test_fetch_render);
        return TEST_EXIT();
}
