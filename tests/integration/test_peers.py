#!/usr/bin/python3
"""Self-tests of the test stack's peers (no agent needed).

Verifies that the emulators are as strict as the real services, so that the
agent's tests mean something: IMDSv2 rules, moto's SigV4/IAM enforcement
after setup, the systemd mock (path escaping, EnvironmentFile parsing, job
signals, failures), the stand-in kong's exit-code contract, NOTIFY_SOCKET.

Run: /usr/bin/python3 tests/integration/test_peers.py
"""
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stack import Stack  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
import systemd_template as sdt  # noqa: E402


def http(method, url, headers=None, timeout=5):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "PUT" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


class EnvFileParser(unittest.TestCase):
    """Expected values follow systemd's env-file.c state machine."""

    def p(self, s):
        return sdt.parse_env_file(s)

    def test_basic(self):
        self.assertEqual(self.p("A=b\nC = d \n"), {"A": "b", "C": "d"})

    def test_comments_and_no_inline_comment(self):
        self.assertEqual(self.p("# x=y\n; z=1\nA=b # c\n"), {"A": "b # c"})

    def test_single_quotes_literal(self):
        self.assertEqual(self.p("A='x\\ny $Z \"q\"'\n"), {"A": 'x\\ny $Z "q"'})

    def test_double_quotes(self):
        self.assertEqual(self.p('A="a\\"b\\\\c\\$d\\`e\\nf"\n'), {"A": 'a"b\\c$d`e\\nf'})

    def test_unquoted_escapes(self):
        self.assertEqual(self.p("A=a\\ b\\#c\\\\\n"), {"A": "a b#c\\"})

    def test_concatenation(self):
        self.assertEqual(self.p("A='x'\"y\"z\n"), {"A": "xyz"})

    def test_continuation(self):
        self.assertEqual(self.p("A=one\\\ntwo\n"), {"A": "onetwo"})

    def test_no_expansion(self):
        self.assertEqual(self.p("A=$HOME ${PATH}\n"), {"A": "$HOME ${PATH}"})

    def test_empty_and_no_equals(self):
        self.assertEqual(self.p("A=\nJUNK\nB=1"), {"A": "", "B": "1"})

    def test_duplicate_replaces(self):
        self.assertEqual(self.p("A=1\nA=2\n"), {"A": "2"})

    def test_password_roundtrip(self):
        # one correct way to write PASSWORD for EnvironmentFile=
        pw = Stack.PASSWORD
        esc = "".join("\\" + c if c in sdt.SHELL_NEED_ESCAPE else c for c in pw)
        self.assertEqual(self.p('KONG_PG_PASSWORD="%s"\n' % esc)["KONG_PG_PASSWORD"], pw)
        # the shell idiom '\'' is NOT systemd syntax: after a closing quote
        # an unquoted "'" is literal
        self.assertEqual(self.p("KONG_PG_PASSWORD='%s'\n" % pw.replace("'", "'\\''"))["KONG_PG_PASSWORD"],
                         'k0ng#pa;ss"w\'\'o$rd x\'')

    def test_path_escape(self):
        self.assertEqual(sdt.unit_path("kong.service"), "/org/freedesktop/systemd1/unit/kong_2eservice")
        self.assertEqual(sdt.bus_label_escape("a-b@1.service"), "a_2db_401_2eservice")
        self.assertEqual(sdt.bus_label_escape("1x"), "_31x")
        self.assertEqual(sdt.bus_label_escape(""), "_")


class Peers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = Stack()
        cls.st.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.st.__exit__(None, None, None)

    def setUp(self):
        self.st.reset()

    # ------------------------------------------------------------- IMDS --
    def token(self, ttl="60"):
        code, body, _ = http("PUT", self.st.imds_url + "/latest/api/token",
                             {"X-aws-ec2-metadata-token-ttl-seconds": ttl})
        self.assertEqual(code, 200)
        return body

    def get(self, path, token):
        h = {"X-aws-ec2-metadata-token": token} if token else {}
        return http("GET", self.st.imds_url + path, h)

    def test_imds_strict(self):
        u = self.st.imds_url
        self.assertEqual(http("PUT", u + "/latest/api/token")[0], 400)
        for bad in ("0", "21601", "abc", "-1", "1.5"):
            self.assertEqual(http("PUT", u + "/latest/api/token",
                                  {"X-aws-ec2-metadata-token-ttl-seconds": bad})[0], 400, bad)
        self.assertEqual(http("PUT", u + "/latest/api/token",
                              {"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"})[0], 403)
        self.assertEqual(http("GET", u + "/latest/api/token")[0], 405)
        self.assertEqual(self.get("/latest/meta-data/instance-id", None)[0], 401)   # IMDSv1
        self.assertEqual(self.get("/latest/meta-data/instance-id", "bogus")[0], 401)
        t = self.token()
        self.assertEqual(self.get("/latest/meta-data/instance-id", t)[:2], (200, Stack.INSTANCE_ID))
        self.assertEqual(self.get("/latest/meta-data/placement/region", t)[1], "us-east-1")
        self.assertEqual(self.get("/latest/meta-data/placement/availability-zone", t)[1], "us-east-1a")
        mac = self.get("/latest/meta-data/mac", t)[1]
        self.assertEqual(self.get("/latest/meta-data/network/interfaces/macs/%s/vpc-ipv4-cidr-blocks" % mac, t)[1],
                         "10.0.0.0/16\n10.1.0.0/16")
        role = self.get("/latest/meta-data/iam/security-credentials/", t)[1]
        self.assertEqual(role, "kong-node")
        creds = json.loads(self.get("/latest/meta-data/iam/security-credentials/" + role, t)[1])
        self.assertEqual(creds["Code"], "Success")
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        for k in ("SecretAccessKey", "Token", "Expiration", "LastUpdated", "Type"):
            self.assertIn(k, creds)
        self.assertEqual(self.get("/latest/user-data", t)[0], 404)
        self.assertEqual(self.get("/latest/meta-data/tags/instance/", t)[0], 404)
        self.assertEqual(self.get("/latest/meta-data/nope", t)[0], 404)
        self.st.set_imds(tags={"kong-bootstrap:migrations": "off"}, user_data="#kong-bootstrap\nx = 1\n")
        self.assertEqual(self.get("/latest/meta-data/tags/instance/", t)[1], "kong-bootstrap:migrations")
        self.assertEqual(self.get("/latest/meta-data/tags/instance/kong-bootstrap:migrations", t)[1], "off")
        self.assertEqual(self.get("/latest/user-data", t)[1], "#kong-bootstrap\nx = 1\n")
        self.st.set_imds(disabled=True)
        self.assertEqual(self.get("/latest/meta-data/instance-id", t)[0], 403)
        self.assertEqual(http("PUT", u + "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "5"})[0], 403)
        log = self.st.imds_requests()
        self.assertTrue(log and all(set(r) >= {"method", "path", "status"} for r in log))
        raw = open(self.st.imds_log).read()
        self.assertNotIn(t, raw)
        self.assertNotIn(creds["SecretAccessKey"], raw)

    def test_imds_token_expiry_and_faults(self):
        self.st.set_imds(token_ttl_override=1)
        t = self.token("21600")
        self.assertEqual(self.get("/latest/meta-data/instance-id", t)[0], 200)
        time.sleep(1.2)
        self.assertEqual(self.get("/latest/meta-data/instance-id", t)[0], 401)
        self.st.set_imds(token_ttl_override=None,
                         faults=[{"path": "/latest/meta-data/instance-id", "status": 503, "count": 2}])
        t = self.token()
        codes = [self.get("/latest/meta-data/instance-id", t)[0] for _ in range(3)]
        self.assertEqual(codes, [503, 503, 200])

    # -------------------------------------------------------------- moto --
    def test_moto_enforces_sigv4(self):
        c = self.st.role_credentials
        self.assertTrue(self.st.get_secret_with(c)["ok"])
        # a different first character (moto's random key may begin with any)
        flipped = ("B" if c["SecretAccessKey"][0] == "A" else "A") + c["SecretAccessKey"][1:]
        bad = self.st.get_secret_with(dict(c, SecretAccessKey=flipped))
        self.assertFalse(bad["ok"])
        self.assertEqual(bad["http_status"], 403)
        self.assertFalse(self.st.get_secret_with(dict(c, Token="bogus"))["ok"])
        self.assertFalse(self.st.get_secret_with({"AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                                                  "SecretAccessKey": "x"})["ok"])

    def test_moto_update_and_put_secret(self):
        self.st.update_secret(password="new")
        self.st.put_secret("prod/kong/other", {"username": "kong"})
        self.assertTrue(self.st.get_secret_with(self.st.role_credentials, "prod/kong/other")["ok"])
        self.st.update_secret()  # back to PASSWORD

    # -------------------------------------------------------------- kong --
    def kenv(self, pw=Stack.PASSWORD):
        return {"KONG_PG_HOST": "127.0.0.1", "KONG_PG_PORT": str(self.st.pg_port), "KONG_PG_USER": "kong",
                "KONG_PG_DATABASE": "kong", "KONG_PG_PASSWORD": pw, "KONG_DATABASE": "postgres"}

    def test_kong_contract(self):
        k, e = self.st.kong, self.kenv()
        self.assertEqual(k("migrations", "list", env=e)[0], 3)
        self.assertEqual(k("migrations", "up", env=e)[0], 1)
        self.assertEqual(k("migrations", "finish", env=e)[0], 1)
        code, out, err = k("migrations", "list", env=self.kenv("wrong"))
        self.assertEqual(code, 1)
        self.assertIn("password authentication failed", err)
        self.assertEqual(k("migrations", "bootstrap", env=e)[0], 0)
        code, out, _ = k("migrations", "bootstrap", env=e)
        self.assertEqual(code, 0)
        self.assertIn("Database already bootstrapped", out)
        self.assertEqual(k("migrations", "list", env=e)[0], 0)
        self.st.set_kong(extra="002_new")
        self.assertEqual(k("migrations", "list", env=e)[0], 5)
        self.assertEqual(k("migrations", "up", env=e)[0], 0)
        self.assertEqual(k("migrations", "list", env=e)[0], 0)
        self.st.set_kong(extra="002_new,003_td:teardown")
        self.assertEqual(k("migrations", "up", env=e)[0], 0)
        self.assertEqual(k("migrations", "list", env=e)[0], 4)
        self.st.set_kong(extra="002_new,003_td:teardown,004_more")
        self.assertEqual(k("migrations", "list", env=e)[0], 4)           # pending and new
        self.assertEqual(k("migrations", "up", env=e)[0], 1)             # pending -> refuse
        self.assertEqual(k("migrations", "up", "--force", env=e)[0], 0)
        self.assertEqual(k("migrations", "finish", env=e)[0], 0)
        self.assertEqual(k("migrations", "list", env=e)[0], 0)
        self.st.set_kong(fail="list")
        self.assertEqual(k("migrations", "list", env=e)[0], 1)
        log = self.st.kong_log_entries()
        self.assertTrue(all("has_pg_password_env" in r and "argv" in r and "exit" in r for r in log))
        self.assertNotIn(Stack.PASSWORD, open(self.st.kong_log).read())

    def test_kong_lock_race(self):
        self.st.set_kong(delay=2)
        e = self.kenv()
        env = dict(e, PATH=os.environ["PATH"])
        p1 = subprocess.Popen([self.st.kong_bin, "migrations", "bootstrap"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        code, out, _ = self.st.kong("migrations", "bootstrap", env=e)
        # Kong's flaw: the second node exits 0 before the first is done,
        # either aborted by Kong's lock or because bootstrap created
        # schema_meta first (Kong then calls the database bootstrapped).
        self.assertEqual(code, 0)
        self.assertTrue("aborted: another node is performing database changes" in out
                        or "Database already bootstrapped" in out, out)
        self.assertIsNone(p1.poll(), "the first bootstrap should still be running")
        self.assertEqual(p1.wait(30), 0)

    def test_kong_slow_list_and_printed_password(self):
        """The knobs that make the stand-in as slow and as careless as real
        Kong can be (issue 19): `list` takes list_delay seconds; with
        print_password the password is in the output, in one write ("line")
        or cut in two writes that reach a reader separately ("split")."""
        e = self.kenv()
        self.st.set_kong(list_delay=1)
        t0 = time.monotonic()
        self.assertEqual(self.st.kong("migrations", "list", env=e)[0], 3)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0, "list_delay not honoured")
        self.st.set_kong(list_delay=0)
        pw = Stack.PASSWORD.encode()
        for mode in ("line", "split"):
            self.st.set_kong(print_password=mode)
            p = subprocess.Popen([self.st.kong_bin, "migrations", "list"], env=dict(e, PATH=os.environ["PATH"]),
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            reads = list(iter(lambda: os.read(p.stdout.fileno(), 4096), b""))
            p.stdout.close()
            self.assertEqual(p.wait(30), 3, mode)
            # (no assertIn: its message would print the password)
            self.assertTrue(pw in b"".join(reads), "%s: the password is not in the output" % mode)
            whole = [r for r in reads if pw in r]
            if mode == "split":
                self.assertEqual(len(whole), 0, "split: the password arrived in one read")
            else:
                self.assertEqual(len(whole), 1, "line: the password did not arrive in one read")

    def test_kong_conf_parsing(self):
        conf = os.path.join(self.st.tmp, "etc", "kong", "parse.conf")
        with open(conf, "w") as f:
            f.write("# comment\n; other\npg_host = 127.0.0.1   # inline\npg_port = %d\n"
                    "pg_user = kong\npg_database = kong\npg_password = a\\#b\n" % self.st.pg_port)
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
        import importlib.machinery
        import importlib.util
        loader = importlib.machinery.SourceFileLoader("kong_standin", self.st.kong_bin.replace(
            self.st.kong_bin, os.path.join(os.path.dirname(__file__), "..", "peers", "kong")))
        spec = importlib.util.spec_from_loader("kong_standin", loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        c = mod.parse_kong_conf(conf)
        self.assertEqual(c["pg_host"], "127.0.0.1")
        self.assertEqual(c["pg_password"], "a#b")
        code, _, err = self.st.kong("migrations", "list", "-c", conf,
                                    env={"KONG_PG_PASSWORD": Stack.PASSWORD})
        self.assertEqual(code, 3, err)

    # ----------------------------------------------------------- systemd --
    def write_env(self, pw=Stack.PASSWORD):
        esc = "".join("\\" + c if c in sdt.SHELL_NEED_ESCAPE else c for c in pw)
        fd = os.open(self.st.kong_env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, ('KONG_PG_PASSWORD="%s"\n' % esc).encode())
        os.close(fd)
        with open(self.st.kong_conf, "w") as f:
            f.write("database = postgres\npg_host = 127.0.0.1\npg_port = %d\npg_user = kong\n"
                    "pg_database = kong\npg_ssl = off\nstatus_listen = 127.0.0.1:%d\n"
                    % (self.st.pg_port, self.st.status_port))

    def start_and_wait(self):
        """StartUnit like systemctl: subscribe to JobRemoved first, then wait."""
        import dbus
        from dbus.mainloop.glib import DBusGMainLoop
        from gi.repository import GLib
        DBusGMainLoop(set_as_default=True)
        bus = dbus.bus.BusConnection(self.st.dbus_address, mainloop=DBusGMainLoop())
        got = {}
        loop = GLib.MainLoop()

        def on_removed(job_id, path, unit, result):
            got.setdefault(str(path), str(result))
            loop.quit()
        bus.add_signal_receiver(on_removed, "JobRemoved", "org.freedesktop.systemd1.Manager")
        mgr = dbus.Interface(bus.get_object("org.freedesktop.systemd1", "/org/freedesktop/systemd1"),
                             "org.freedesktop.systemd1.Manager")
        job = str(mgr.StartUnit("kong.service", "replace"))
        GLib.timeout_add(5000, loop.quit)
        while job not in got:
            loop.run()
            if job not in got:
                break
        bus.close()
        return got.get(job)

    def test_systemd_start_ready_stop(self):
        e = self.kenv()
        self.assertEqual(self.st.kong("migrations", "bootstrap", env=e)[0], 0)
        self.write_env()
        self.assertEqual(self.st.systemd_manager().GetUnit("kong.service"),
                         "/org/freedesktop/systemd1/unit/kong_2eservice")
        self.assertEqual(self.st.systemd_manager().LoadUnit("kong.service"),
                         "/org/freedesktop/systemd1/unit/kong_2eservice")
        self.assertEqual(self.start_and_wait(), "done")
        props = self.st.unit_properties()
        self.assertEqual(props["ActiveState"], "active")
        self.assertGreater(int(props["MainPID"]), 0)
        deadline = time.time() + 15
        while time.time() < deadline and self.st.kong_ready()[0] != 200:
            time.sleep(0.1)
        self.assertEqual(self.st.kong_ready(), (200, '{"message": "ready"}'))
        self.assertEqual(self.start_and_wait(), "done")     # no second process
        starts = [c for c in self.st.systemd_calls() if c["method"] == "StartUnit"]
        self.assertEqual(len(starts), 2)
        self.assertTrue(starts[1].get("already_active"))
        start_log = [r for r in self.st.kong_log_entries() if r["argv"][:1] == ["start"]]
        self.assertEqual(start_log, [])  # start logs on exit
        self.st.systemd_manager().StopUnit("kong.service", "replace")
        self.assertEqual(self.st.unit_properties()["ActiveState"], "inactive")
        self.assertIsNone(self.st.kong_ready()[0])
        srec = [r for r in self.st.kong_log_entries() if r["argv"][:1] == ["start"]]
        self.assertEqual(len(srec), 1)
        self.assertTrue(srec[0]["has_pg_password_env"])

    def test_systemd_wrong_password_not_ready(self):
        e = self.kenv()
        self.assertEqual(self.st.kong("migrations", "bootstrap", env=e)[0], 0)
        self.write_env("wrong")
        self.assertEqual(self.start_and_wait(), "done")   # Type=simple: forked = done
        deadline = time.time() + 10
        while time.time() < deadline and self.st.unit_properties()["ActiveState"] == "active":
            time.sleep(0.1)
        props = self.st.unit_properties()
        self.assertEqual((props["ActiveState"], props["Result"]), ("failed", "exit-code"))

    def test_systemd_failures(self):
        # missing env file -> resources
        self.assertEqual(self.start_and_wait(), "failed")
        props = self.st.unit_properties()
        self.assertEqual((props["ActiveState"], props["Result"]), ("failed", "resources"))
        self.write_env()
        self.st.set_unit_failure("exit-code")
        self.assertEqual(self.start_and_wait(), "failed")
        self.assertEqual(self.st.unit_properties()["Result"], "exit-code")
        calls = self.st.systemd_calls()
        self.assertEqual([(c["method"], c["name"], c["mode"]) for c in calls],
                         [("StartUnit", "kong.service", "replace")] * 2)

    # ------------------------------------------------------------ notify --
    def test_notify_socket(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"STATUS=hello\nREADY=1", self.st.notify_socket)
        s.close()
        deadline = time.time() + 5
        while time.time() < deadline and not self.st.notify_messages():
            time.sleep(0.02)
        self.assertEqual(self.st.notify_messages(), [["STATUS=hello", "READY=1"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
