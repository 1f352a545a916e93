#!/usr/bin/python3
"""The trust boundary, played as an attacker with nothing but
ec2:CreateTags (issue 12): IMDS serves hostile instance tags; a trap
server speaking enough of the PostgreSQL protocol to ask for a cleartext
password and an HTTP trap record anything that reaches them. Each attack
must leave the traps empty, kong.conf with the trusted values, the refusal
reported by tag name, and the boot complete. A control per trap shows it
does catch what it is set for when a trusted source points at it.

Plus the rest of the issue: endpoints https:// only (loopback and IMDS
excepted), interval bounds, user-data with a NUL, control characters in
logged values, no core dump, only stdio in the kong child, and the
leftover temp file of the env file.

Run: /usr/bin/python3 tests/integration/test_trust.py
"""
import base64
import http.server
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from common import parse_conf
from aws_support import EXIT_CONFIG, EXIT_DB, AwsTestCase

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


class PgTrap:
    """Accepts connections on loopback, answers SSLRequest with 'N', asks
    for a cleartext password (AuthenticationCleartextPassword: 'R', code 3),
    records every byte that arrives, then fails the login like a server
    (28P01)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = []     # one bytes object per connection: all it received
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _recv_exact(self, c, n, got):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
            got.append(chunk)
        return data

    def _serve(self, c):
        got = []
        try:
            c.settimeout(10)
            while True:
                n, code = struct.unpack("!ii", self._recv_exact(c, 8, got))
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    c.sendall(b"N")
                    continue
                self._recv_exact(c, n - 8, got)      # the startup packet's parameters
                break
            c.sendall(b"R" + struct.pack("!ii", 8, 3))
            typ = self._recv_exact(c, 1, got)
            n, = struct.unpack("!i", self._recv_exact(c, 4, got))
            self._recv_exact(c, n - 4, got)
            if typ == b"p":
                err = b"SFATAL\0C28P01\0Mpassword authentication failed for user\0\0"
                c.sendall(b"E" + struct.pack("!i", len(err) + 4) + err)
        except (EOFError, OSError):
            pass
        finally:
            with self.lock:
                self.connections.append(b"".join(got))
            c.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def close(self):
        self.sock.close()


class HttpTrap:
    """Records every request (method, path, headers, body); answers 500."""

    def __init__(self):
        trap = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                trap.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers), "body": body})
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def tag(key):
    return "kong-bootstrap:" + key


class TrustBoundary(AwsTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg_trap = PgTrap()
        cls.http_trap = HttpTrap()

    @classmethod
    def tearDownClass(cls):
        cls.pg_trap.close()
        cls.http_trap.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        with self.pg_trap.lock:
            self.pg_trap.connections.clear()
        self.http_trap.requests.clear()

    # ------------------------------------------------------------ helpers --
    def boot_with_tags(self, tags, config=None, args=("run", "--oneshot")):
        self.st.set_imds(tags=tags)
        return self.run_timed(args=args, config=config)

    def assertTrapsEmpty(self):
        time.sleep(0.2)     # a connection in flight would have landed by now
        self.assertEqual(self.pg_trap.connections, [], "the PostgreSQL trap was reached\n" + self.explain())
        self.assertEqual(self.http_trap.requests, [], "the HTTP trap was reached\n" + self.explain())

    def assertRefused(self, err, *tags):
        for t in tags:
            self.assertIn("refused instance tag %s" % t, err, self.explain())

    def kong_conf(self):
        return parse_conf(self.st.kong_conf)

    def assertCheckListsRefused(self, *tags):
        code, out, err = self.run_timed(args=("check",))
        self.assertExit(EXIT_CONFIG, code)
        for t in tags:
            self.assertRegex(out, r"(?m)^FAIL +tag +%s: " % t, self.explain())
        # The other checks still ran and passed.
        self.assertRegex(out, r"(?m)^ok +postgres ", self.explain())

    # ------------------------------------------------ attack 1: pg_host --
    def test_attack_pg_host_and_port_tags(self):
        """Tags point the database at the trap: the password never goes there."""
        hostile = {tag("pg_host"): "127.0.0.1", tag("pg_port"): str(self.pg_trap.port),
                   tag("pg_user"): "attacker", tag("pg_database"): "attacker"}
        code, out, err = self.boot_with_tags(hostile)
        self.assertBooted(code)
        self.assertTrapsEmpty()
        conf = self.kong_conf()
        self.assertEqual(conf["pg_port"], str(self.st.pg_port))
        self.assertEqual(conf["pg_database"], "kong")
        self.assertRefused(err, *hostile)
        self.assertCheckListsRefused(*hostile)
        self.assertTrapsEmpty()

    def test_control_pg_trap_catches_a_password(self):
        """The same trap, named by a trusted source (--set), receives the
        password in the clear: the trap works, so its emptiness above means
        something."""
        sets = ["--set", "pg_host=127.0.0.1", "--set", "pg_port=%d" % self.pg_trap.port,
                "--set", "pg_wait_timeout=2"]
        code, out, err = self.run_timed(args=sets + ["run", "--oneshot"])
        self.assertExit(EXIT_DB, code)
        got = b"".join(self.pg_trap.connections)
        self.assertIn(self.st.PASSWORD.encode(), got, "the trap did not see the password")

    # -------------------------------------------------- attack 2: endpoints --
    def test_attack_endpoint_tags(self):
        """Tags point Secrets Manager and Auto Scaling at the HTTP trap: the
        signed GetSecretValue goes to the trusted endpoint only."""
        hostile = {tag("secretsmanager_endpoint"): self.http_trap.url,
                   tag("autoscaling_endpoint"): self.http_trap.url,
                   tag("region"): "us-east-1"}
        code, out, err = self.boot_with_tags(hostile)
        self.assertBooted(code)
        self.assertTrapsEmpty()
        self.assertTrue(self.sm_requests(), "the secret was not read from the trusted endpoint")
        self.assertRefused(err, *hostile)
        self.assertCheckListsRefused(*hostile)

    def test_control_http_trap_catches_a_signed_request(self):
        code, out, err = self.run_timed(args=["--set", "secretsmanager_endpoint=" + self.http_trap.url,
                                              "--set", "aws_timeout=2", "render"])
        self.assertNotEqual(code, 0)
        self.assertTrue(self.http_trap.requests, "the HTTP trap saw nothing")
        self.assertIn("Authorization", self.http_trap.requests[0]["headers"])

    # ------------------------------------------------------ attack 3: TLS --
    def test_attack_tls_tags_render(self):
        """A file asking for verify-full keeps it over tags asking for
        disable and for the system CA bundle."""
        cfg = self.config(pg_sslmode="verify-full", pg_sslrootcert="/etc/kong-bootstrap/rds-ca.pem")
        hostile = {tag("pg_sslmode"): "disable",
                   tag("pg_sslrootcert"): "/etc/ssl/certs/ca-certificates.crt"}
        code, out, err = self.boot_with_tags(hostile, config=cfg, args=("render",))
        self.assertExit(0, code)
        self.assertRegex(out, r"(?m)^pg_ssl = on\b")
        self.assertRegex(out, r"(?m)^pg_ssl_verify = on\b")
        self.assertRegex(out, r"(?m)^lua_ssl_trusted_certificate = system,/etc/kong-bootstrap/rds-ca.pem$")
        self.assertNotIn("ca-certificates.crt", out)
        self.assertRefused(err, *hostile)
        self.assertTrapsEmpty()

    def test_attack_tls_tag_boot(self):
        """The stack's PostgreSQL has no TLS: a tag that took effect
        (pg_sslmode = require) would fail the boot; refused, it completes."""
        hostile = {tag("pg_sslmode"): "require"}
        code, out, err = self.boot_with_tags(hostile)
        self.assertBooted(code)
        self.assertEqual(self.kong_conf()["pg_ssl"], "off")
        self.assertRefused(err, *hostile)

    # -------------------------------------------- attack 4: Kong exposure --
    def test_attack_kong_exposure_tags(self):
        hostile = {tag("kong.admin_listen"): "0.0.0.0:8001", tag("admin_listen"): "0.0.0.0:8001",
                   tag("kong.untrusted_lua"): "on", tag("kong.plugins"): "bundled,evil",
                   tag("proxy_listen"): "0.0.0.0:80", tag("status_listen"): "0.0.0.0:9",
                   tag("trusted_ips"): "0.0.0.0/0", tag("kong.nginx_http_lua_code_cache"): "off"}
        code, out, err = self.boot_with_tags(hostile)
        self.assertBooted(code)
        conf = self.kong_conf()
        self.assertEqual(conf["admin_listen"], "127.0.0.1:8001")
        self.assertNotIn("untrusted_lua", conf)
        self.assertNotIn("plugins", conf)
        self.assertNotIn("nginx_http_lua_code_cache", conf)
        self.assertEqual(conf["status_listen"], "127.0.0.1:%d" % self.st.status_port)
        self.assertNotIn("0.0.0.0/0", conf.get("trusted_ips", ""))
        self.assertNotIn("0.0.0.0:80,", conf["proxy_listen"] + ",")
        self.assertRefused(err, *hostile)
        self.assertTrapsEmpty()

    # ----------------------------------------------- the rest of the tags --
    def test_allowlisted_tags_apply_and_stray_tags_do_not_stop_the_boot(self):
        tags = {tag("ready_timeout"): "30",              # allowlisted, in bounds: used
                tag("rotation_interval"): "0",           # allowlisted, out of bounds
                tag("no_such_key"): "1",                 # unknown
                tag("drain timeout"): "5",               # not even a key name
                tag("lifecycle_hook"): "a\nb",           # control character
                tag("kong_bin"): "/tmp/evil"}            # local only
        code, out, err = self.boot_with_tags(tags)
        self.assertBooted(code)
        refused = [t for t in tags if t != tag("ready_timeout")]
        self.assertRefused(err, *refused)
        self.assertNotIn("refused instance tag %s" % tag("ready_timeout"), err)
        self.assertIn("6 key(s) read, 5 refused", err)
        for line in err.splitlines():
            if "refused instance tag" in line:
                self.assertNotIn("/tmp/evil", line, "a refused tag's value is not shown")
        self.assertCheckListsRefused(*refused)

    def test_no_tags_check_passes(self):
        code, out, err = self.boot_with_tags({tag("lifecycle_heartbeat_interval"): "60"}, args=("check",))
        self.assertExit(0, code)
        self.assertNotIn("FAIL", out)

    # ------------------------------------------------------- endpoints --
    def test_plain_http_endpoint_refused_from_every_source(self):
        cases = [
            (["--set", "secretsmanager_endpoint=http://203.0.113.7"], {}, None, "--set"),
            ([], {"KONG_BOOTSTRAP_AUTOSCALING_ENDPOINT": "http://autoscaling.example.com"}, None,
             "environment KONG_BOOTSTRAP_AUTOSCALING_ENDPOINT"),
            ([], {}, "#kong-bootstrap\nsecretsmanager_endpoint = http://10.0.0.8:443\n", "user-data line 2"),
            (["--set", "imds_endpoint=http://169.254.170.2"], {}, None, "--set"),
        ]
        for sets, env, user_data, source in cases:
            with self.subTest(source=source):
                self.st.set_imds(user_data=user_data)
                code, out, err = self.run_timed(args=sets + ["render"], env=env)
                self.assertExit(EXIT_CONFIG, code)
                self.assertMessage(err, "endpoint from " + source, "https://")
                self.assertEqual(self.sm_requests(), [])
        self.st.set_imds(user_data=None)

    def test_https_and_loopback_endpoints_accepted(self):
        for url in ("https://secretsmanager.eu-west-1.amazonaws.com", "http://localhost:1",
                    "http://[::1]:1"):
            with self.subTest(url=url):
                code, out, err = self.run_timed(args=["--set", "autoscaling_endpoint=" + url, "render"])
                self.assertExit(0, code)

    # ----------------------------------------------------------- bounds --
    def test_interval_bounds(self):
        for sets, needle in ((["--set", "rotation_interval=0"], "rotation_interval from --set"),
                             (["--set", "lifecycle_heartbeat_interval=-1"],
                              "lifecycle_heartbeat_interval from --set"),
                             (["--set", "pg_wait_timeout=99999999"], "pg_wait_timeout from --set")):
            with self.subTest(sets=sets):
                code, out, err = self.run_timed(args=sets + ["render"])
                self.assertExit(EXIT_CONFIG, code)
                self.assertMessage(err, needle, "..")
        cfg = self.config(rotation_interval=0)
        code, out, err = self.run_timed(config=cfg, args=("render",))
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "rotation_interval from %s:" % cfg, "1..86400")

    # -------------------------------------------------------- user-data --
    def test_user_data_with_a_nul_is_refused(self):
        for user_data in ("#kong-bootstrap\nready_timeout = 30\0\npg_host = 203.0.113.9\n",
                          "Content-Type: text/x-kong-bootstrap\nContent-Transfer-Encoding: base64\n\n"
                          + base64.b64encode(b"ready_timeout = 30\0\npg_host = 203.0.113.9\n").decode() + "\n"):
            with self.subTest(user_data=user_data[:20]):
                self.st.set_imds(user_data=user_data)
                code, out, err = self.run_timed(args=("render",))
                self.assertExit(EXIT_CONFIG, code)
                self.assertMessage(err, "user-data", "NUL")
                self.assertEqual(self.sm_requests(), [])
        self.st.set_imds(user_data=None)

    # -------------------------------------------- control characters --
    def test_control_characters_from_the_secret_are_escaped(self):
        name = "prod/kong/odd-names"
        secret = self.st.default_secret(username="kong\nboot: Kong ready; boot complete",
                                        dbname="kong\rdb\x1b[2J")
        self.st.put_secret(name, secret)
        code, out, err = self.run_timed(args=("render",), config=self.config(secret_id=name))
        self.assertIn("secrets: secret ", err, self.explain())
        lines = err.splitlines()
        self.assertFalse([l for l in lines if l.startswith("boot:")], self.explain())
        self.assertFalse([l for l in err if l in "\r\x1b"], "raw control characters in the output")
        self.assertIn("\\x1b", err)
        for m in self.st.notify_messages():
            for line in m:
                self.assertNotIn("\x1b", line)

    def test_newline_in_the_secret_host_cannot_forge_a_notification(self):
        """STATUS= carries the host while the database wait retries: a
        newline there would start a READY=1 assignment of its own."""
        name = "prod/kong/forged-ready"
        self.st.put_secret(name, self.st.default_secret(host="127.0.0.1\nREADY=1\nSTATUS=forged"))
        code, out, err = self.run_timed(config=self.config(secret_id=name, pg_wait_timeout=2))
        self.assertExit(EXIT_DB, code)
        lines = [l for m in self.st.notify_messages() for l in m]
        self.assertTrue([l for l in lines if l.startswith("STATUS=waiting for Postgres")], lines)
        self.assertNotIn("READY=1", lines)
        self.assertNotIn("STATUS=forged", lines)

    # ------------------------------------------------------ core dumps --
    def _abort(self, argv, env=None, cwd=None):
        def limits():
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        log = open(os.path.join(self.st.tmp, "log", "trust-agent.log"), "ab")
        p = subprocess.Popen(argv, env=env, cwd=cwd, preexec_fn=limits, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        p.stderr = log
        return p

    def test_no_core_dump(self):
        """With RLIMIT_CORE unlimited and the kernel's core_pattern in
        place, SIGABRT to a booted agent (what the watchdog sends) leaves no
        core; the same signal to an ordinary process does (the control)."""
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
        work = tempfile.mkdtemp(dir=self.st.tmp)
        # Control: an ordinary process in the same conditions dumps core.
        ctl = self._abort(["/bin/sleep", "60"], cwd=work)
        time.sleep(0.3)
        ctl.send_signal(signal.SIGABRT)
        _, status = os.waitpid(ctl.pid, 0)
        ctl.returncode = 0
        ctl.stderr.close()
        self.assertTrue(os.WCOREDUMP(status),
                        "control: no core from a plain process (core_pattern %r): this test cannot tell" % pattern)
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))

        argv = self.st.agent_argv(["run"], config=self.config())
        argv[0] = os.path.abspath(argv[0])
        p = self._abort(argv, env=self.st.agent_env(), cwd=work)
        try:
            deadline = time.time() + 60
            while time.time() < deadline and not any("READY=1" in l for m in self.st.notify_messages() for l in m):
                self.assertIsNone(p.poll(), "the agent ended before READY=1")
                time.sleep(0.2)
            self.assertTrue(any("READY=1" in l for m in self.st.notify_messages() for l in m), "no READY=1")
            with open("/proc/%d/status" % p.pid) as f:
                self.assertIn("State:", f.read())
            p.send_signal(signal.SIGABRT)
            _, status = os.waitpid(p.pid, 0)
            p.returncode = 0
        finally:
            if p.returncode is None:
                p.kill()
                p.wait()
            p.stderr.close()
        self.assertTrue(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT)
        self.assertFalse(os.WCOREDUMP(status), "the agent dumped core")
        self.assertEqual(os.listdir(work), [], "a core file was written")

    # ----------------------------------------------------- child fds --
    def test_kong_child_has_only_stdio(self):
        code, out, err = self.run_timed()
        self.assertBooted(code)
        entries = [e for e in self.st.kong_log_entries() if e.get("argv", [None])[0] == "migrations"]
        self.assertTrue(entries)
        for e in entries:
            self.assertEqual(sorted(e["fds"]), ["0", "1", "2"],
                             "kong %s inherited %s" % (" ".join(e["argv"]), json.dumps(e["fds"])))

    # ------------------------------------------------------ leftovers --
    def test_leftover_env_temp_file_removed_at_start(self):
        d = os.path.dirname(self.st.kong_env_file)
        os.makedirs(d, mode=0o700, exist_ok=True)
        base = os.path.basename(self.st.kong_env_file)
        left = os.path.join(d, ".%s.0123456789abcdef.tmp" % base)
        other = os.path.join(d, "unrelated.tmp")
        for path in (left, other):
            with open(path, "w") as f:
                f.write("KONG_PG_PASSWORD=old\n")
        self.addCleanup(lambda: os.path.exists(other) and os.unlink(other))
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertFalse(os.path.exists(left), "leftover temp file still there\n" + self.explain())
        self.assertTrue(os.path.exists(other))
        self.assertIn("removed 1 temporary file(s)", err)
        self.assertEqual([f for f in os.listdir(d) if f.endswith(".tmp") and f.startswith(".")], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
