#!/usr/bin/python3
"""Issue 4: TLS to PostgreSQL (pg_sslmode, pg_sslrootcert) and the same
choice rendered for Kong (pg_ssl, pg_ssl_verify, lua_ssl_trusted_certificate).

The stack's Postgres gets a server certificate from a test CA (openssl, made
here) whose only name is DNS:localhost, ssl = on, and a pg_hba.conf that
rejects non-TLS connections of role kong, so every successful connection of
the agent and of the stand-in kong is a TLS one.  The stand-in kong connects
like Kong does: pg_ssl -> TLS, pg_ssl_verify -> the chain checked against
lua_ssl_trusted_certificate, not the host name (libpq verify-ca; Kong's
pgmoon passes no server name to sslhandshake).

Run: /usr/bin/python3 tests/integration/test_database_tls.py
"""
import os
import pwd
import shutil
import subprocess
import time
import unittest

from common import parse_conf, systemd_template
import kong_conf_reader
from election_common import EXIT_DB, FleetTestCase


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr))


def make_pki(d):
    os.makedirs(d, exist_ok=True)
    for name in ("ca", "wrong-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kong-bootstrap test %s" % name,
                "-keyout", name + ".key", "-out", name + ".pem", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
            "-out", "server.csr", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName = DNS:localhost\nextendedKeyUsage = serverAuth\n"
                "basicConstraints = CA:FALSE\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", "server.crt", "-extfile", "server.ext", cwd=d)


class Tls(FleetTestCase):
    FLEET = 1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        st = cls.st
        cls.pki = os.path.join(st.tmp, "pki")
        make_pki(cls.pki)
        ssl_dir = os.path.join(st.pg_dir, "ssl")
        os.makedirs(ssl_dir, exist_ok=True)
        for f in ("server.crt", "server.key"):
            shutil.copy(os.path.join(cls.pki, f), ssl_dir)
        os.chmod(os.path.join(ssl_dir, "server.key"), 0o600)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (ssl_dir, os.path.join(ssl_dir, "server.crt"), os.path.join(ssl_dir, "server.key")):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        hba = os.path.join(st.pg_data, "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write("# test_database_tls: role kong only over TLS\nhostnossl all kong all reject\n" + rules)
        st.db_query("ALTER SYSTEM SET ssl = on", dbname="postgres")
        st.db_query("ALTER SYSTEM SET ssl_cert_file = %s", (os.path.join(ssl_dir, "server.crt"),), dbname="postgres")
        st.db_query("ALTER SYSTEM SET ssl_key_file = %s", (os.path.join(ssl_dir, "server.key"),), dbname="postgres")
        st.db_query("SELECT pg_reload_conf()", dbname="postgres")
        time.sleep(0.5)
        assert st.db_query("SHOW ssl", dbname="postgres")[0][0] == "on", "ssl not enabled (see postgres.log)"

    @property
    def ca(self):
        return os.path.join(self.pki, "ca.pem")

    def kong_settings(self, node):
        """pg_ssl & co. as Kong sees them: kong.conf overridden by the env file."""
        conf = parse_conf(node["kong_conf"]) if os.path.exists(node["kong_conf"]) else {}
        env = systemd_template.load_env_file(node["kong_env_file"]) if os.path.exists(node["kong_env_file"]) else {}
        out = {}
        for k in ("pg_host", "pg_ssl", "pg_ssl_verify", "lua_ssl_trusted_certificate"):
            v = env.get("KONG_" + k.upper(), conf.get(k))
            if v is not None:
                out[k] = v
        return out

    def trusted_certificates(self, node):
        """lua_ssl_trusted_certificate as Kong's conf_loader reads it: a list."""
        conf = kong_conf_reader.load_config_file(node["kong_conf"])
        return kong_conf_reader.kong_array(conf.get("lua_ssl_trusted_certificate"))

    def boot(self, **cfg):
        (a,) = self.start_nodes([0], pg_wait_timeout=5, **cfg)
        try:
            code = a.wait(60)
        except Exception:
            self.fail("agent still running after 60 s\n" + self.explain())
        return a, code, a.output()[1]

    # ------------------------------------------------------------------
    def test_plain_connection_is_refused(self):
        """The setup is what the tests think: without TLS role kong is out."""
        a, code, err = self.boot(pg_sslmode="disable")
        self.assertEqual(code, EXIT_DB, self.explain())

    def test_verify_full_right_ca_and_host(self):
        a, code, err = self.boot(pg_sslmode="verify-full", pg_sslrootcert=self.ca, pg_host="localhost")
        self.assertEqual(code, 0, self.explain())
        ks = self.kong_settings(a.node)
        self.assertEqual(ks.get("pg_ssl"), "on", ks)
        self.assertEqual(ks.get("pg_ssl_verify"), "on", ks)
        # the database's CA beside Kong's default store, not in its place
        self.assertEqual(self.trusted_certificates(a.node), ["system", self.ca])
        self.assertEqual(ks.get("pg_host"), "localhost", ks)
        # Kong's own connections (stand-in: TLS, chain checked against that CA) worked
        subs = [r["argv"][1] for r in self.st.kong_log_entries() if r["argv"][:1] == ["migrations"]]
        self.assertIn("bootstrap", subs)
        self.assertEqual(self.node_ready(a.node), 200)

    def test_verify_full_wrong_host_name(self):
        """The certificate names localhost; connecting to 127.0.0.1 with
        verify-full must fail, clearly."""
        a, code, err = self.boot(pg_sslmode="verify-full", pg_sslrootcert=self.ca, pg_host="127.0.0.1")
        self.assertEqual(code, EXIT_DB, self.explain())
        self.assertRegex(err, r"(?i)does not match host name|host name|hostname")
        self.assertEqual(self.st.kong_log_entries(), [])
        self.assertEqual(self.start_calls(a.node["unit"]), [])

    def test_verify_full_wrong_ca(self):
        wrong = os.path.join(self.pki, "wrong-ca.pem")
        a, code, err = self.boot(pg_sslmode="verify-full", pg_sslrootcert=wrong, pg_host="localhost")
        self.assertEqual(code, EXIT_DB, self.explain())
        self.assertRegex(err, r"(?i)certificate")
        self.assertEqual(self.st.kong_log_entries(), [])
        self.assertEqual(self.start_calls(a.node["unit"]), [])

    def test_verify_ca_right_ca(self):
        """verify-ca checks the chain only: 127.0.0.1 (not in the
        certificate) is fine, for the agent and for Kong."""
        a, code, err = self.boot(pg_sslmode="verify-ca", pg_sslrootcert=self.ca, pg_host="127.0.0.1")
        self.assertEqual(code, 0, self.explain())
        ks = self.kong_settings(a.node)
        self.assertEqual((ks.get("pg_ssl"), ks.get("pg_ssl_verify")), ("on", "on"), ks)
        self.assertEqual(self.trusted_certificates(a.node), ["system", self.ca])

    def test_operator_ca_list_is_merged(self):
        """An operator's own lua_ssl_trusted_certificate is kept and the
        database's CA added to it; Kong (the stand-in combines every listed
        file, as Kong's .ca_combined) still reaches the database."""
        corp = os.path.join(self.pki, "wrong-ca.pem")   # any other CA file
        a, code, err = self.boot(pg_sslmode="verify-ca", pg_sslrootcert=self.ca, pg_host="127.0.0.1",
                                 **{"kong.lua_ssl_trusted_certificate": " %s , system" % corp})
        self.assertEqual(code, 0, self.explain())
        self.assertEqual(self.trusted_certificates(a.node), [corp, "system", self.ca])
        self.assertEqual(self.node_ready(a.node), 200)
        # listed already: left as the operator wrote it
        a, code, err = self.boot(pg_sslmode="verify-ca", pg_sslrootcert=self.ca, pg_host="127.0.0.1",
                                 **{"kong.lua_ssl_trusted_certificate": "%s,%s" % (self.ca, corp)})
        self.assertEqual(code, 0, self.explain())
        self.assertEqual(self.trusted_certificates(a.node), [self.ca, corp])

    def test_require_no_verification(self):
        a, code, err = self.boot(pg_sslmode="require", pg_sslrootcert=None, pg_host="127.0.0.1")
        self.assertEqual(code, 0, self.explain())
        ks = self.kong_settings(a.node)
        self.assertEqual((ks.get("pg_ssl"), ks.get("pg_ssl_verify")), ("on", "off"), ks)

    def test_missing_ca_file(self):
        missing = os.path.join(self.st.tmp, "no", "such-ca.pem")
        a, code, err = self.boot(pg_sslmode="verify-full", pg_sslrootcert=missing, pg_host="localhost")
        self.assertEqual(code, EXIT_DB, self.explain())
        self.assertIn("pg_sslrootcert", err)
        self.assertIn(missing, err)
        self.assertLessEqual(a.ended - a.started, 5.0, "a missing CA file is not worth waiting for")
        self.assertEqual(self.st.kong_log_entries(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
