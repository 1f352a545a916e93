#!/usr/bin/python3
"""Golden files of the rendered kong.conf and env file, and `render --diff`.

The stack's variable parts (its temp directory, the Postgres and status
ports) are replaced with @TMP@, @PG_PORT@ and @STATUS_PORT@ before the
comparison with tests/golden/*.  After an intended change of the output,
regenerate them and review the diff:

    UPDATE_GOLDEN=1 /usr/bin/python3 tests/integration/test_render_golden.py

Run: /usr/bin/python3 tests/integration/test_render_golden.py
"""
import difflib
import os
import re
import unittest

from common import StackTestCase, password_fragments, slurp

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "golden")

TEMPLATE = """\
# The operator's own kong.conf, extended by kong-bootstrap (tests/golden)
log_level = notice            # a comment Kong drops
nginx_worker_processes = 2
plugins = bundled,my-plugin
proxy_listen = 0.0.0.0:9000 proxy_protocol, 0.0.0.0:9443 http2 ssl proxy_protocol
headers = off
mem_cache_size = 256m
pg_timeout = 7000
anonymous_reports = off
log_prefix = /var/log/k\\#1
admin_listen = 127.0.0.1:8444 \\
    ssl
"""

NEW_PASSWORD = "n3w#P@ss;w\"o'rd$\\ z"


class Golden(StackTestCase):
    def normalize(self, text):
        st = self.st
        text = text.replace(st.tmp, "@TMP@")
        text = re.sub(r"\b%d\b" % st.pg_port, "@PG_PORT@", text)
        return re.sub(r"\b%d\b" % st.status_port, "@STATUS_PORT@", text)

    def assertGolden(self, name, text):
        path = os.path.join(GOLDEN, name)
        text = self.normalize(text)
        if os.environ.get("UPDATE_GOLDEN") == "1":
            os.makedirs(GOLDEN, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("\nwrote %s" % path)
            return
        self.assertTrue(os.path.exists(path), "%s missing: run with UPDATE_GOLDEN=1" % path)
        want = slurp(path).decode("utf-8")
        if want != text:
            diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                                "golden/" + name, "rendered"))
            self.fail("%s differs from the golden file (UPDATE_GOLDEN=1 to accept):\n%s" % (name, diff))

    def template_config(self):
        st = self.st
        tmpl = os.path.join(st.tmp, "etc", "kong-template.conf")
        with open(tmpl, "w") as f:
            f.write(TEMPLATE)
        cfg = st.agent_config(kong_conf_template=tmpl, kong_prefix=os.path.join(st.tmp, "kong-prefix"),
                              **{"kong.log_level": "info"})
        confd = os.path.join(os.path.dirname(cfg), "conf.d")
        os.makedirs(confd, exist_ok=True)
        with open(os.path.join(confd, "20-kong.conf"), "w") as f:
            f.write("# conf.d layer\nkong.trusted_ips = 0.0.0.0/0, ::/0\nkong.mem_cache_size = 512m\n")
        self.addCleanup(os.unlink, os.path.join(confd, "20-kong.conf"))
        args = ["--set", "kong.pg_timeout=9000", "--set", "kong.nginx_http_client_max_body_size=16m"]
        env = {"KONG_BOOTSTRAP_KONG_REAL_IP_HEADER": "X-Forwarded-For"}
        return cfg, args, env

    # ------------------------------------------------------------------
    def test_default(self):
        st = self.st
        code, out, err = self.run_agent(["render"])
        self.assertExit(0, code)
        self.assertGolden("render-default.txt", out)
        code, out, err = self.run_agent()
        self.assertExit(0, code)
        self.assertGolden("kong.conf-default", slurp(st.kong_conf).decode("utf-8"))
        self.assertGolden("kong.env-default", slurp(st.kong_env_file).decode("utf-8"))

    def test_template_with_overrides(self):
        st = self.st
        cfg, args, env = self.template_config()
        code, out, err = self.run_agent(["render"] + args, config=cfg, env=env)
        self.assertExit(0, code)
        self.assertGolden("render-template.txt", out)
        code, out, err = self.run_agent(["run", "--oneshot"] + args, config=cfg, env=env)
        self.assertExit(0, code)
        self.assertGolden("kong.conf-template", slurp(st.kong_conf).decode("utf-8"))

    # ------------------------------------------------------------------
    def assertNoPassword(self, text, *passwords):
        for pw in passwords:
            for frag in password_fragments(pw):
                self.assertNotIn(frag, text, "render output holds a fragment of the password")

    def test_render_diff(self):
        st = self.st
        conf, envf = st.kong_conf, st.kong_env_file
        code, out, err = self.run_agent(["render", "--diff"])
        self.assertExit(0, code)
        self.assertIn("# %s: would be created\n" % conf, out)
        self.assertIn("# %s: would change (content not shown" % envf, out)
        self.assertFalse(os.path.exists(conf) or os.path.exists(envf), "render --diff wrote a file")

        code, out, err = self.run_agent()
        self.assertExit(0, code)
        before = {p: (os.stat(p).st_ino, os.stat(p).st_mtime_ns, slurp(p)) for p in (conf, envf)}

        code, out, err = self.run_agent(["render", "--diff"])
        self.assertExit(0, code)
        self.assertIn("# %s: unchanged\n" % conf, out)
        self.assertIn("# %s: unchanged (content not shown" % envf, out)

        code, out, err = self.run_agent(["render", "--diff", "--set", "kong.log_level=debug",
                                         "--set", "admin_listen=127.0.0.1:8444"])
        self.assertExit(0, code)
        lines = out.splitlines()
        self.assertIn("# %s: would change" % conf, lines)
        self.assertIn("-admin_listen = 127.0.0.1:8001", lines)
        self.assertIn("+admin_listen = 127.0.0.1:8444", lines)
        self.assertIn("+log_level = debug", lines)
        self.assertIn(" database = postgres", lines)
        self.assertEqual([l for l in lines if l[:1] in "+-"],
                         ["-admin_listen = 127.0.0.1:8001", "+admin_listen = 127.0.0.1:8444",
                          "+log_level = debug"], out)
        self.assertIn("# %s: unchanged (content not shown" % envf, out)
        self.assertNoPassword(out + err, st.PASSWORD)

        st.update_secret(password=NEW_PASSWORD)
        code, out, err = self.run_agent(["render", "--diff"])
        self.assertExit(0, code)
        self.assertIn("# %s: unchanged\n" % conf, out)
        self.assertIn("# %s: would change (content not shown" % envf, out)
        self.assertNoPassword(out + err, st.PASSWORD, NEW_PASSWORD)

        code, out, err = self.run_agent(["render"])
        self.assertExit(0, code)
        self.assertIn("KONG_PG_PASSWORD=<redacted>\n", out)
        self.assertNoPassword(out + err, st.PASSWORD, NEW_PASSWORD)

        for p, (ino, mtime, data) in before.items():
            s = os.stat(p)
            self.assertEqual((s.st_ino, s.st_mtime_ns, slurp(p)), (ino, mtime, data), "render touched %s" % p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
