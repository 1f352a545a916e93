#!/usr/bin/python3
"""Issue 16, part 1: Kong's other secrets from Secrets Manager.

kong_secret.<setting> = SECRET[#JSON-KEY] puts a secret into the env file
as KONG_<SETTING>. A license (one line, with '#', '$', '"', '\\' in it) and
a certificate pair (PEM, several lines) must reach the stand-in Kong
exactly as Kong would use them: the env file is read with systemd's own
EnvironmentFile= parser (libsystemd-shared, through ctypes), and the
stand-in reports SHA-256 digests of what it ended up using (the PEM as the
file Kong writes to <prefix>/ssl/, the license as Kong Enterprise's
workers read it), never the values. Also: one GetSecretValue per distinct
secret (counted by the fault proxy in front of moto), a rotation of two
mapped secrets (one env file rewrite, one reload), a mapping from an
instance tag refused, values Kong would alter refused naming the setting,
a missing secret or JSON key named in the error, a rotation to a value
Kong would alter kept out, the database secret read once when a mapping
names it too (by name or ARN), at boot and at every rotation check, and
such a mapping moving with the password only: not before Postgres takes
it, and then in the same rewrite and reload.

Run: /usr/bin/python3 tests/integration/test_kong_secrets.py
"""
import contextlib
import ctypes
import hashlib
import os
import signal
import subprocess
import tempfile
import time
import unittest

from aws_support import EXIT_OK, EXIT_SECRETS
from common import Stack, slurp, systemd_template
from lifecycle_common import LifecycleTestCase
from stack import read_jsonl, wait_for

LIBSYSTEMD_SHARED = "/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so"

# One line of JSON, as Kong's license files are; every character the env
# file and Kong's readers treat specially, but nothing Kong would change.
LICENSE = ('{"license":{"payload":{"customer":"Ex#ample; Co \\"A\\" $HOME `x` \\\\ 1",'
           '"license_expiration_date":"2099-01-01"},"signature":"5f9e#ab$c","version":"1"}}')
SESSION_CONF = '{"secret":"s3cr#t$`\\"x","cookie_secure":true,"storage":"kong"}'


def make_pair(cn):
    """A fresh EC certificate and key, PEM, each ending in a line feed."""
    with tempfile.TemporaryDirectory() as d:
        key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-keyout", key, "-out", crt],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(crt) as c, open(key) as k:
            return c.read(), k.read()


def systemd_env(path):
    """The env file as PID 1 reads EnvironmentFile=: load_env_file(), then
    only the assignments env_assignment_is_valid() keeps
    (strv_env_clean_with_callback in exec_context_load_environment)."""
    lib = ctypes.CDLL(LIBSYSTEMD_SHARED)
    lib.load_env_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(ctypes.c_char_p))]
    lib.env_assignment_is_valid.argtypes = [ctypes.c_char_p]
    lib.env_assignment_is_valid.restype = ctypes.c_bool
    ret = ctypes.POINTER(ctypes.c_char_p)()
    r = lib.load_env_file(None, path.encode(), ctypes.byref(ret))
    if r < 0:
        raise OSError(-r, "load_env_file(%s)" % path)
    env, i = {}, 0
    while ret[i]:
        a = ret[i]
        if lib.env_assignment_is_valid(a):
            k, _, v = a.decode().partition("=")
            env[k] = v
        i += 1
    return env


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def fragments(*values):
    """Distinctive pieces of secret values, for the leak checks."""
    out = set()
    for v in values:
        out.add(v)
        for line in v.splitlines():
            if len(line) >= 16 and "-----" not in line:
                out.add(line)
    return sorted(out)


class KongSecrets(LifecycleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cert, cls.key = make_pair("kong-proxy")
        cls.cert2, cls.key2 = make_pair("kong-proxy-rotated")
        cls.cluster_cert, _ = make_pair("kong-cluster")
        st = cls.st
        st.put_secret("prod/kong/license", LICENSE)
        st.put_secret("prod/kong/tls", {"cert": cls.cert, "key": cls.key})
        st.put_secret("prod/kong/cluster-cert", cls.cluster_cert)   # not JSON: the whole value
        st.put_secret("prod/kong/manager", {"session_conf": SESSION_CONF})
        cls.bad = [("prod/kong/bad-license", LICENSE + " ", "kong_secret.license_data", "ends with a blank"),
                   ("prod/kong/bad-cert", cls.cert.replace("\n", "\r\n"), "kong_secret.ssl_cert",
                    "carriage return"),
                   ("prod/kong/bad-session", "00424242424242", "kong_secret.admin_gui_session_conf", "number")]
        for name, value, _, _ in cls.bad:
            st.put_secret(name, value)
        cls.dirty = False
        st.start_faultproxy()

    def setUp(self):
        super().setUp()
        st = self.st
        if type(self).dirty:
            st.update_secret(LICENSE, name="prod/kong/license")
            st.update_secret({"cert": self.cert, "key": self.key}, name="prod/kong/tls")
            type(self).dirty = False
        st.clear_faultproxy()
        st.set_imds(tags=None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.received_path)

    @property
    def received_path(self):
        return self.st.kong_log[:-len(".jsonl")] + "-received.jsonl"

    def received(self):
        recs = read_jsonl(self.received_path)
        return recs[-1]["received"] if recs else None

    def mapped_config(self, **kw):
        cfg = {"secretsmanager_endpoint": self.st.faultproxy_url,
               "kong_secret.license_data": "prod/kong/license",
               "kong_secret.ssl_cert": "prod/kong/tls\\#cert",
               "kong_secret.ssl_cert_key": "prod/kong/tls\\#key",
               "kong_secret.cluster_cert": "prod/kong/cluster-cert",
               "kong_secret.admin_gui_session_conf": "prod/kong/manager\\#session_conf"}
        cfg.update(kw)
        return self.config(**cfg)

    def gets(self):
        return [r.get("secret_id") for r in self.st.faultproxy_requests()
                if "GetSecretValue" in (r.get("target") or "")]

    def assertNoValueIn(self, text, *values, what="agent output"):
        leaked = [f for f in fragments(*values) if f in text]
        if leaked:   # (not assertEqual: its message would print the secret)
            self.fail("%s holds %d fragment(s) of a mapped secret" % (what, len(leaked)))

    def expected(self, cert, key):
        return {"KONG_LICENSE_DATA": LICENSE, "KONG_SSL_CERT": cert.rstrip("\n"),
                "KONG_SSL_CERT_KEY": key.rstrip("\n"), "KONG_CLUSTER_CERT": self.cluster_cert.rstrip("\n"),
                "KONG_ADMIN_GUI_SESSION_CONF": SESSION_CONF}

    def assertKongReceived(self, cert, key):
        got = self.received()
        self.assertIsNotNone(got, "the stand-in Kong reported nothing\n" + self.explain())
        self.assertEqual(got, {"license_data": sha(LICENSE), "ssl_cert": [sha(cert.rstrip("\n"))],
                               "ssl_cert_key": [sha(key.rstrip("\n"))],
                               "cluster_cert": [sha(self.cluster_cert.rstrip("\n"))],
                               "admin_gui_session_conf": sha(SESSION_CONF)}, self.explain())

    # ------------------------------------------------------------------
    def test_license_and_certificate_pair_reach_kong_exactly(self):
        st = self.st
        code, out, err = self.run_agent(config=self.mapped_config())
        self.assertExit(EXIT_OK, code)
        self.assertEqual(self.wait_ready(5)[0], 200, self.explain())
        env = systemd_env(st.kong_env_file)
        expected = self.expected(self.cert, self.key)
        for k, v in expected.items():
            self.assertTrue(env.get(k) == v, "%s in the env file is not the secret's value as systemd reads it"
                            % k)
        self.assertEqual(env.get("KONG_PG_PASSWORD"), Stack.PASSWORD)
        # the test stack's systemd stand-in reads the file the same way
        self.assertEqual(systemd_template.load_env_file(st.kong_env_file), env)
        self.assertEqual(os.stat(st.kong_env_file).st_mode & 0o777, 0o600)
        self.assertKongReceived(self.cert, self.key)
        # one GetSecretValue per distinct secret: the database's and four
        self.assertEqual(sorted(self.gets()), sorted([Stack.SECRET_ID, "prod/kong/license", "prod/kong/tls",
                                                      "prod/kong/cluster-cert", "prod/kong/manager"]),
                         self.explain())
        # never in kong.conf, argv, the migrations' environment or the output
        with open(st.kong_conf) as f:
            self.assertNoValueIn(f.read(), *expected.values(), what="kong.conf")
        for r in st.kong_log_entries():
            self.assertNoValueIn(" ".join(r["argv"]), *expected.values(), what="a kong argv")
            if r["argv"][:1] == ["migrations"]:
                self.assertEqual([k for k in r["env_keys"] if k.startswith("KONG_") and
                                  not k.startswith("KONG_STANDIN_")], ["KONG_PG_PASSWORD"], r["argv"])
        self.assertNoValueIn(out + err, *expected.values())
        self.assertIn("Kong secret settings: 5 from 4 secret(s)", err)
        # render shows the settings redacted
        code, out, err = self.run_agent(args=("render",), config=self.mapped_config())
        self.assertExit(EXIT_OK, code)
        for k in expected:
            self.assertIn("%s=<redacted>\n" % k, out)
        self.assertNoValueIn(out + err, *expected.values(), what="render's output")
        code, out, err = self.run_agent(args=("check",), config=self.mapped_config())
        self.assertExit(EXIT_OK, code)
        self.assertRegex(out, r"(?m)^ok +secrets .*; kong_secret\.\* settings read$")
        self.assertNoValueIn(out + err, *expected.values(), what="check's output")

    def test_rotation_of_two_mapped_secrets_one_reload(self):
        st = self.st
        a = st.start_agent(("-v", "run"), config=self.mapped_config(rotation_interval=8), name="rotation")
        self.agents.append(a)
        self.wait_booted(a)
        self.assertEqual(self.wait_ready(5)[0], 200, self.agent_story(a))
        self.assertKongReceived(self.cert, self.key)
        # right after a check, so that both updates land before the next one
        wait_for(lambda: "unchanged" in self.stderr_of(a), 20, "a first rotation check", proc=a,
                 detail=lambda: self.agent_story(a), error=self.failureException)
        changed = time.time()
        type(self).dirty = True
        st.update_secret({"cert": self.cert2, "key": self.key2}, name="prod/kong/tls")
        st.update_secret(LICENSE.replace("2099", "2098"), name="prod/kong/license")
        new_license = LICENSE.replace("2099", "2098")
        wait_for(lambda: systemd_env(st.kong_env_file).get("KONG_SSL_CERT") == self.cert2.rstrip("\n"), 25,
                 "the env file carries the rotated certificate", proc=a, detail=lambda: self.agent_story(a),
                 error=self.failureException)
        wait_for(lambda: self.systemd("ReloadUnit"), 10, "ReloadUnit", proc=a,
                 detail=lambda: self.agent_story(a), error=self.failureException)
        time.sleep(10)    # one more check: nothing moved, nothing reloaded
        env = systemd_env(st.kong_env_file)
        self.assertTrue(env.get("KONG_SSL_CERT_KEY") == self.key2.rstrip("\n"), "rotated key not in the env file")
        self.assertTrue(env.get("KONG_LICENSE_DATA") == new_license, "rotated license not in the env file")
        self.assertEqual(env.get("KONG_PG_PASSWORD"), Stack.PASSWORD)
        reloads = self.systemd("ReloadUnit")
        self.assertEqual(len(reloads), 1, self.agent_story(a))
        self.assertEqual((reloads[0]["name"], reloads[0]["result"]), ("kong.service", "done"), reloads[0])
        self.assertGreater(reloads[0]["called"], changed)
        # the reload applies the new pair (kong prepare rewrites <prefix>/ssl);
        # the license Kong's workers read from the environment stays the one
        # Kong started with until it restarts, and the agent says so
        got = self.received()
        self.assertEqual((got["ssl_cert"], got["ssl_cert_key"], got["license_data"]),
                         ([sha(self.cert2.rstrip("\n"))], [sha(self.key2.rstrip("\n"))], sha(LICENSE)))
        self.assertEqual(self.wait_ready(5)[0], 200, self.agent_story(a))
        err = self.stderr_of(a)
        moved = [line for line in err.splitlines() if "Kong secret(s) moved" in line]
        self.assertEqual(len(moved), 1, err)
        self.assertIn("prod/kong/tls", moved[0])
        self.assertIn("prod/kong/license", moved[0])
        self.assertEqual(err.count("Kong secret settings: env file rewritten and Kong reloaded"), 1, err)
        self.assertEqual(err.count("kong_secret.license_data: the env file carries the new license, but a reload "
                                   "does not change the KONG_LICENSE_DATA Kong's workers read; it takes effect "
                                   "when kong.service restarts"), 1, err)
        self.assertNoValueIn(err, LICENSE, new_license, self.cert, self.key, self.cert2, self.key2)
        self.assertIsNone(a.poll(), self.agent_story(a))

    def test_rotation_to_a_value_kong_would_alter_keeps_the_current_one(self):
        st = self.st
        a = st.start_agent(("-v", "run"), config=self.mapped_config(rotation_interval=2), name="rotation-bad")
        self.agents.append(a)
        self.wait_booted(a)
        before = slurp(st.kong_env_file)
        type(self).dirty = True
        st.update_secret(LICENSE + " ", name="prod/kong/license")
        wait_for(lambda: "Kong secret settings: keeping the current values" in self.stderr_of(a), 20,
                 "the agent refused the new license version", proc=a, detail=lambda: self.agent_story(a),
                 error=self.failureException)
        time.sleep(3)
        err = self.stderr_of(a)
        warning = [line for line in err.splitlines() if "keeping the current values" in line][0]
        self.assertIn("kong_secret.license_data from", warning)
        self.assertIn("prod/kong/license", warning)
        self.assertIn("ends with a blank", warning)
        self.assertEqual(slurp(st.kong_env_file), before)
        self.assertEqual(self.systemd("ReloadUnit"), [], self.agent_story(a))
        self.assertNoValueIn(err, LICENSE)
        self.assertIsNone(a.poll(), self.agent_story(a))

    def test_a_mapping_of_the_database_secret_reads_it_once(self):
        st = self.st
        code, out, err = self.run_agent(config=self.config(
            secretsmanager_endpoint=st.faultproxy_url,
            **{"kong_secret.pg_ro_password": "%s\\#password" % Stack.SECRET_ID}))
        self.assertExit(EXIT_OK, code)
        self.assertEqual(self.gets(), [Stack.SECRET_ID], self.explain())
        self.assertEqual(systemd_env(st.kong_env_file).get("KONG_PG_RO_PASSWORD"), Stack.PASSWORD)

    def test_a_rotation_check_reads_each_secret_once(self):
        # The database secret also mapped, by its name and by its ARN, and
        # one other secret: every rotation check (as the boot) sends one
        # GetSecretValue for each of the two secrets, the database's by
        # secret_id, never by the ARN.
        st = self.st
        cfg = self.config(secretsmanager_endpoint=st.faultproxy_url, rotation_interval=2,
                          **{"kong_secret.pg_ro_password": "%s\\#password" % Stack.SECRET_ID,
                             "kong_secret.pg_ro_user": "%s\\#username" % st.secret_arn,
                             "kong_secret.license_data": "prod/kong/license"})
        a = st.start_agent(("-v", "run"), config=cfg, name="rotation-reads")
        self.agents.append(a)
        self.wait_booted(a)
        wait_for(lambda: len([line for line in self.stderr_of(a).splitlines()
                              if "secret version" in line and "unchanged" in line]) >= 3, 30,
                 "three rotation checks", proc=a, detail=lambda: self.agent_story(a), error=self.failureException)
        os.kill(a.pid, signal.SIGTERM)
        self.assertEqual(self.wait_exit(a, 15), EXIT_OK, self.agent_story(a))
        err = self.stderr_of(a)
        n = len([line for line in err.splitlines() if "secret version" in line and "unchanged" in line])
        gets = self.gets()
        # the boot and n checks that finished; a check under way at SIGTERM
        # may have sent its reads without logging
        db, lic = gets.count(Stack.SECRET_ID), gets.count("prod/kong/license")
        self.assertIn(db, (n + 1, n + 2), "GetSecretValue of the database secret: %d for the boot and %d "
                      "checks\n%s" % (db, n, self.explain()))
        self.assertEqual(lic, db, gets)
        self.assertEqual(set(gets), {Stack.SECRET_ID, "prod/kong/license"}, gets)
        env = systemd_env(st.kong_env_file)
        self.assertEqual((env.get("KONG_PG_RO_PASSWORD"), env.get("KONG_PG_RO_USER")), (Stack.PASSWORD, "kong"))
        self.assertNotIn(Stack.PASSWORD, err)

    def test_a_mapping_of_the_database_secret_moves_with_the_password(self):
        # kong_secret.pg_ro_password names the database secret: a rotation
        # of it must not reach Kong through the mapping while Postgres does
        # not take the new password yet, and once it does, the password and
        # the mapped copy are written together and applied with one reload.
        st = self.st
        new = "r0tated-ro#pa;ss$word"
        cfg = self.config(secretsmanager_endpoint=st.faultproxy_url, rotation_interval=2,
                          **{"kong_secret.pg_ro_password": "%s\\#password" % Stack.SECRET_ID})
        a = st.start_agent(("-v", "run"), config=cfg, name="rotation-db-mapped")
        self.agents.append(a)
        self.wait_booted(a)
        before = slurp(st.kong_env_file)
        env = systemd_env(st.kong_env_file)
        self.assertEqual((env.get("KONG_PG_PASSWORD"), env.get("KONG_PG_RO_PASSWORD")),
                         (Stack.PASSWORD, Stack.PASSWORD))
        st.update_secret(password=new)          # Postgres does not know it yet
        wait_for(lambda: "Postgres does not take the new credentials yet" in self.stderr_of(a), 15,
                 "the agent tried the new password and kept the current one", proc=a,
                 detail=lambda: self.agent_story(a), error=self.failureException)
        time.sleep(3)                           # a check or two more
        self.assertTrue(slurp(st.kong_env_file) == before,      # (assertEqual would print the passwords)
                        "the env file changed before Postgres took the new password (the mapped copy ran "
                        "ahead of it)")
        self.assertEqual(self.systemd("ReloadUnit"), [], self.agent_story(a))
        changed = time.time()
        st.set_db_password(new)
        wait_for(lambda: systemd_env(st.kong_env_file).get("KONG_PG_PASSWORD") == new, 45,
                 "the env file carries the new password", proc=a, detail=lambda: self.agent_story(a),
                 error=self.failureException)
        time.sleep(5)                           # two more checks: nothing else moves
        env = systemd_env(st.kong_env_file)
        self.assertTrue(env.get("KONG_PG_RO_PASSWORD") == new, "the mapped copy did not follow the password")
        reloads = self.systemd("ReloadUnit")
        self.assertEqual(len(reloads), 1, self.agent_story(a))
        self.assertGreater(reloads[0]["called"], changed)
        err = self.stderr_of(a)
        self.assertEqual(err.count("env file rewritten and Kong reloaded"), 1, err)
        self.assertEqual(len([line for line in err.splitlines() if "Kong secret(s) moved" in line]), 1, err)
        self.assertNotIn(new, err)
        self.assertIsNone(a.poll(), self.agent_story(a))

    def test_mapping_from_an_instance_tag_is_refused(self):
        st = self.st
        st.set_imds(tags={"kong-bootstrap:kong_secret.license_data": "prod/kong/license",
                          "kong-bootstrap:kong_secret.ssl_cert": "prod/kong/tls#cert"})
        code, out, err = self.run_agent(config=self.config(secretsmanager_endpoint=st.faultproxy_url))
        self.assertExit(EXIT_OK, code)
        for t in ("kong_secret.license_data", "kong_secret.ssl_cert"):
            self.assertIn("refused instance tag kong-bootstrap:%s" % t, err)
        self.assertIn("cannot be set by an instance tag", err)
        env = systemd_env(st.kong_env_file)
        self.assertEqual(sorted(env), ["KONG_PG_PASSWORD"])
        self.assertEqual(self.gets(), [Stack.SECRET_ID], "a refused mapping was read anyway")
        code, out, err = self.run_agent(args=("check",), config=self.config())
        self.assertRegex(out, r"(?m)^FAIL +tag +kong-bootstrap:kong_secret.license_data: ")

    def test_user_data_may_map(self):
        st = self.st
        st.set_imds(user_data="#kong-bootstrap\nkong_secret.license_data = prod/kong/license\n")
        code, out, err = self.run_agent(config=self.config(secretsmanager_endpoint=st.faultproxy_url))
        self.assertExit(EXIT_OK, code)
        self.assertTrue(systemd_env(st.kong_env_file).get("KONG_LICENSE_DATA") == LICENSE)

    def test_values_kong_would_alter_are_refused_naming_the_setting(self):
        st = self.st
        for name, value, key, why in self.bad:
            with self.subTest(key=key):
                st.reset()
                code, out, err = self.run_agent(config=self.config(**{key: name}))
                self.assertExit(EXIT_SECRETS, code)
                self.assertIn("%s from %s" % (key, os.path.join(st.tmp, "etc", "kong-bootstrap.conf")), err)
                self.assertIn("cannot reach Kong exactly as KONG_%s: " % key.split(".", 1)[1].upper(), err)
                self.assertIn(why, err)
                self.assertIn(name, err)
                self.assertNoValueIn(out + err, value.strip())
                self.assertNothingWritten()

    def test_missing_secret_or_json_key_named(self):
        code, out, err = self.run_agent(config=self.config(**{"kong_secret.ssl_cert": "prod/kong/no-such-tls"}))
        self.assertExit(EXIT_SECRETS, code)
        self.assertRegex(err, r"kong_secret\.ssl_cert from \S+: GetSecretValue for 'prod/kong/no-such-tls' "
                              r"failed: no secret 'prod/kong/no-such-tls'")
        # the hint names the setting that gave the id, not the database's secret_id
        self.assertIn("no secret 'prod/kong/no-such-tls' in this account and region "
                      "(check kong_secret.ssl_cert and region)", err)
        self.assertNotIn("check secret_id", err)
        self.assertNothingWritten()
        code, out, err = self.run_agent(config=self.config(**{"kong_secret.ssl_cert": "prod/kong/tls\\#crt"}))
        self.assertExit(EXIT_SECRETS, code)
        self.assertRegex(err, r"kong_secret\.ssl_cert from \S+: secret 'prod/kong/tls' \(arn:aws:secretsmanager:"
                              r"[^)]*\): the secret has no JSON key 'crt'")
        self.assertNoValueIn(out + err, self.cert, self.key)
        code, out, err = self.run_agent(
            config=self.config(**{"kong_secret.license_data": "prod/kong/license\\#license"}))
        self.assertExit(EXIT_SECRETS, code)
        self.assertIn("the secret's JSON key 'license' is not a string", err)
        self.assertNoValueIn(out + err, LICENSE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
