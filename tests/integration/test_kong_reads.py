#!/usr/bin/python3
"""Issue 14: what every Kong process reads.

- every `kong` invocation reads this boot's kong.conf (-c), so a stale
  default kong.conf (the stand-in's "/etc/kong/kong.conf", pointed at by
  KONG_STANDIN_DEFAULT_CONF) cannot influence migrations;
- a password Kong's workers would read differently from <prefix>/.kong_env
  is refused at boot (exit 15, render, before migrations) and at rotation
  (current password and files kept, an error naming the version);
- the suite's hostile password reaches the workers intact;
- a TLS status listener (Kong's self-signed default certificate) boots to
  ready and drains;
- a rotation whose env file cannot be written puts kong.conf back.

Run: /usr/bin/python3 tests/integration/test_kong_reads.py
"""
import os
import shutil
import socket
import ssl
import time
import unittest

from common import Stack, systemd_template
from lifecycle_common import LifecycleTestCase
from stack import wait_for

import kong_conf_reader

NEW_PASSWORD = "r0tated#pa;ss\"w'o$rd\\ z"

# (class, password, what the refusal says). Each is a password Postgres
# takes as it is; Kong's workers would hold something else.
REFUSED = [
    ("trailing backslash", "Zq9#p;w'd\"$x\\", "ends with a backslash"),
    ("leading blank", " Zq9#p;w'd-lead", "starts with a blank"),
    ("trailing blank", "Zq9#p;w'd-trail ", "ends with a blank"),
    ("leading zero", "0123", "as a number"),
    ("exponent", "1e5", "as a number"),
    ("hexadecimal", "0x10", "as a number"),
    ("size suffix", "10 kB", "as a number"),
    ("_blank_", "Zq9#p;w_blank_d", "_blank_"),
    ("vault reference", "{vault://env/kong-pg-password}", "vault reference"),
]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def env_password(path):
    return systemd_template.load_env_file(path).get("KONG_PG_PASSWORD")


def tls_ready(port, timeout=2):
    """GET /status/ready over TLS without verification: the status code."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as raw, \
                ctx.wrap_socket(raw) as s:
            s.sendall(b"GET /status/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return int(data.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


class KongReads(LifecycleTestCase):
    def until(self, pred, timeout, what, agent=None):
        """stack.wait_for, failing the test with the agent's story."""
        return wait_for(pred, timeout, what, proc=agent, error=self.failureException,
                        detail=(lambda: self.agent_story(agent)) if agent else None)

    def kong_argvs(self):
        return [r["argv"] for r in self.st.kong_log_entries()]

    def kong_env_path(self):
        return os.path.join(self.st.tmp, "run", "kong-prefix", ".kong_env")

    # ------------------------------------------------------ part 1: -c --
    def test_stale_default_conf_cannot_influence_migrations(self):
        st = self.st
        # A previous boot's /etc/kong/kong.conf that points at the right
        # database but a different schema: without -c, `kong migrations`
        # would bootstrap "stale_boot" while Kong serves "public".
        st.db_query("CREATE SCHEMA stale_boot AUTHORIZATION kong")
        with open(st.kong_default_conf, "w") as f:
            f.write("pg_host = 127.0.0.1\npg_port = %d\npg_user = kong\npg_database = kong\n"
                    "pg_schema = stale_boot\npg_timeout = 5\n" % st.pg_port)
        # the stand-in does read it when -c is missing (so the test can fail)
        code, _, err = st.kong("migrations", "bootstrap", env={"KONG_PG_PASSWORD": Stack.PASSWORD})
        self.assertEqual(code, 0, err)
        self.assertEqual(st.db_query("SELECT to_regclass('stale_boot.schema_meta') IS NOT NULL")[0][0], True)
        st.reset_database()
        st.db_query("CREATE SCHEMA stale_boot AUTHORIZATION kong")
        st.clear_logs()

        code, out, err = self.run_agent()
        self.assertExit(0, code)
        staging = os.path.join(os.path.dirname(st.kong_env_file), "kong-migrations.conf")
        migrations = [r for r in st.kong_log_entries() if r["argv"][:1] == ["migrations"]]
        self.assertEqual([r["argv"][1] for r in migrations], ["list", "bootstrap", "list"], self.explain())
        for r in migrations:
            self.assertEqual(r["argv"][2:], ["-c", staging], r)
            self.assertNotIn("default_conf", r, "read a default kong.conf: %r" % r)
            # the environment kong.service gets from the env file, no more
            self.assertEqual([k for k in r["env_keys"] if k.startswith("KONG_") and
                              not k.startswith("KONG_STANDIN_")], ["KONG_PG_PASSWORD"], r)
        self.assertEqual(st.db_query("SELECT to_regclass('public.schema_meta') IS NOT NULL")[0][0], True)
        self.assertEqual(st.db_query("SELECT to_regclass('stale_boot.schema_meta') IS NOT NULL")[0][0], False)
        # the staging copy is gone; the file kong.service reads is this boot's
        self.assertFalse(os.path.exists(staging))
        conf = kong_conf_reader.load_config_file(st.kong_conf)
        self.assertNotIn("pg_schema", conf)
        self.assertEqual(conf["pg_port"], str(st.pg_port))

    def test_failed_migrations_leave_kong_service_files_alone(self):
        """The staging copy, not kong.conf, is what migrations read: a boot
        whose migrations fail leaves the files kong.service reads as they
        were (here: none), so the env-file condition keeps Kong down."""
        st = self.st
        st.set_kong(fail="bootstrap")
        code, out, err = self.run_agent()
        self.assertNotEqual(code, 0, self.explain())
        self.assertNothingWritten()
        argvs = [a for a in self.kong_argvs() if a[:1] == ["migrations"]]
        self.assertTrue(argvs)
        for a in argvs:
            self.assertEqual(a[2], "-c", a)
        self.assertEqual(self.systemd("StartUnit"), [])

    # --------------------------------------------- part 2: passwords ----
    def test_password_classes_refused_at_boot(self):
        st = self.st
        for name, pw, says in REFUSED:
            with self.subTest(name):
                st.clear_logs()
                st.set_db_password(pw)             # Postgres takes it as it is
                st.update_secret(password=pw)
                code, out, err = self.run_agent()
                self.assertExit(15, code)
                self.assertIn("failed at render", "\n".join(l for m in st.notify_messages() for l in m))
                self.assertIn("cannot reach Kong's workers exactly: ", err)
                self.assertIn(says, err)
                self.assertIn("ExcludeCharacters", err)
                # refused before the schema changes and before Kong starts
                self.assertEqual(self.kong_argvs(), [], self.explain())
                self.assertNothingWritten()
                self.assertEqual(self.systemd("StartUnit"), [])
                if len(pw.strip()) >= 6:
                    self.assertNotIn(pw.strip(), out + err)

    def test_hostile_password_reaches_the_workers(self):
        st = self.st
        a = self.start_daemon(self.config())
        self.wait_booted(a)
        self.assertEqual(st.kong_ready()[0], 200)
        # what the stand-in's workers hold: .kong_env through Kong's reader
        workers = kong_conf_reader.load_config_file(self.kong_env_path())
        self.assertEqual(workers["pg_password"], Stack.PASSWORD)
        self.assertIn(b"k0ng\\#pa;ss", read_bytes(self.kong_env_path()))   # '#' written '\#'

    def test_password_classes_refused_at_rotation(self):
        st = self.st
        a = self.start_daemon(self.config(rotation_interval=1))
        self.wait_booted(a)
        self.assertEqual(st.kong_ready()[0], 200)
        conf0, env0 = read_bytes(st.kong_conf), read_bytes(st.kong_env_file)
        for name, pw, says in REFUSED:
            with self.subTest(name):
                version = st.update_secret(password=pw)["version_id"]
                line = self.until(
                    lambda: [l for l in self.stderr_of(a).splitlines()
                             if "version %s: its password cannot reach Kong's workers" % version in l],
                    15, "rotation refuses %s" % name, a)[0]
                self.assertIn(says, line)
                self.assertIn("Keeping the current password and files", line)
                if len(pw.strip()) >= 6:
                    self.assertNotIn(pw.strip(), self.stderr_of(a))
                self.assertEqual(read_bytes(st.kong_conf), conf0)
                self.assertEqual(read_bytes(st.kong_env_file), env0)
                self.assertEqual(self.systemd("ReloadUnit"), [])
                self.assertEqual(st.kong_ready()[0], 200)
        # refused versions do not stop the watch: a good one is applied
        st.set_db_password(NEW_PASSWORD)
        st.update_secret(password=NEW_PASSWORD)
        self.until(lambda: env_password(st.kong_env_file) == NEW_PASSWORD, 15, "new password applied", a)
        self.until(lambda: st.kong_ready()[0] == 200, 10, "Kong ready on the new password", a)
        self.assertEqual(len(self.systemd("ReloadUnit")), 1)
        self.assertIsNone(a.poll(), self.agent_story(a))

    def test_stand_in_workers_see_a_mangled_password(self):
        """The stand-in's readiness is the workers' view: Kong started by
        hand with a password ending in '\\' passes `kong migrations` but
        never gets ready (what the agent's refusal prevents)."""
        st = self.st
        pw = "Zq9#p;w'd\\"
        st.set_db_password(pw)
        env = {"KONG_PG_PORT": str(st.pg_port), "KONG_PG_PASSWORD": pw}
        self.assertEqual(st.kong("migrations", "bootstrap", env=env)[0], 0)
        conf = os.path.join(st.tmp, "etc", "kong", "by-hand.conf")
        with open(conf, "w") as f:
            f.write("pg_host = 127.0.0.1\npg_port = %d\nstatus_listen = 127.0.0.1:%d\n"
                    % (st.pg_port, st.status_port))
        import subprocess
        p = subprocess.Popen([st.kong_bin, "start", "-c", conf], env=dict(env, PATH=os.environ["PATH"]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self.until(lambda: st.kong_ready()[0] is not None, 15, "stand-in answers")
            self.assertEqual(st.kong_ready()[0], 503)
            workers = kong_conf_reader.load_config_file(self.kong_env_path())
            self.assertNotEqual(workers.get("pg_password"), pw)
        finally:
            p.terminate()
            p.wait(10)

    # --------------------------------------------------- part 3: TLS ----
    def test_tls_status_listener_boots_to_ready_and_drains(self):
        st = self.st
        port = st.status_port
        a = self.start_daemon(self.config(status_listen="0.0.0.0:%d ssl" % port, drain_timeout=1))
        self.wait_booted(a)
        self.assertEqual(tls_ready(port), 200)
        # Kong's default status certificate is self-signed: a verifying
        # client fails, so the agent cannot have verified it
        with self.assertRaises(ssl.SSLCertVerificationError):
            with socket.create_connection(("127.0.0.1", port), 2) as raw:
                ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
        st.set_lifecycle_state("Terminated")
        code = self.wait_exit(a, 30)
        self.assertEqual(code, 0, self.agent_story(a))
        self.assertEqual(len(self.events("drain")), 1, self.agent_story(a))
        err = self.stderr_of(a)
        self.assertIn("/status/ready now answers 503", err)
        self.assertEqual(len(self.systemd("StopUnit")), 1)

    # ------------------------------------------ half-way rotation -------
    def test_rotation_failing_half_way_puts_kong_conf_back(self):
        st = self.st
        a = self.start_daemon(self.config(rotation_interval=1))
        self.wait_booted(a)
        conf0, env0 = read_bytes(st.kong_conf), read_bytes(st.kong_env_file)
        # The second write fails for real: the env file's path is a
        # non-empty directory, so its rename(2) fails (root ignores modes).
        os.unlink(st.kong_env_file)
        os.mkdir(st.kong_env_file)
        open(os.path.join(st.kong_env_file, "in-the-way"), "w").close()
        # a rotation that changes both files: the host (kong.conf) and the
        # password (env file)
        st.set_db_password(NEW_PASSWORD)
        st.update_secret(host="localhost", password=NEW_PASSWORD)
        self.until(lambda: "put back as it was" in self.stderr_of(a), 20, "kong.conf put back", a)
        self.assertEqual(read_bytes(st.kong_conf), conf0)
        self.assertEqual(self.systemd("ReloadUnit"), [])
        self.assertIn("cannot apply the new secret version", self.stderr_of(a))
        # the way cleared, the retry (30 s) writes the pair and reloads once
        shutil.rmtree(st.kong_env_file)
        self.until(lambda: os.path.isfile(st.kong_env_file) and
                        env_password(st.kong_env_file) == NEW_PASSWORD, 60, "pair written on retry", a)
        self.assertEqual(kong_conf_reader.load_config_file(st.kong_conf)["pg_host"], "localhost")
        self.assertNotEqual(read_bytes(st.kong_env_file), env0)
        self.until(lambda: self.systemd("ReloadUnit"), 10, "ReloadUnit", a)
        self.assertEqual(len(self.systemd("ReloadUnit")), 1)
        self.assertIsNone(a.poll(), self.agent_story(a))


if __name__ == "__main__":
    unittest.main(verbosity=2)
