#!/usr/bin/python3
"""Round trip of the rendered files through the readers of their consumers.

kong.conf: every hostile value given as a Kong setting (--set kong.<name>,
conf.d, the environment, an operator template) is rendered by the real
agent and read back with tests/peers/kong_conf_reader.py, an independent
port of Kong's reading (Penlight pl.config + Kong's strip_comments, see that
file for the sources). A value must come back exactly, or be refused with
exit 15 and a message naming the key and its source; a mangled value is a
failure.

Env file: hostile passwords go through the secret to the env file that
`run` writes, which systemd's EnvironmentFile= parser (the port in
tests/peers/systemd_template.py, also used by the stand-in systemd to start
Kong) must turn back into exactly the password.

Run: /usr/bin/python3 tests/integration/test_render_roundtrip.py
"""
import concurrent.futures
import os
import stat
import unittest

from common import StackTestCase, agent_said, password_fragments, slurp, systemd_template

import kong_conf_reader

PRINTABLE = [chr(c) for c in range(0x20, 0x7f)]

SPECIAL = [
    # comments
    "#", ";", "#start", "mid#dle", "end#", ";start", "mid;dle", "end;", "a # b", "a ;b",
    "\\#", "a\\#b", "\\\\#", "a\\\\#b", "#!/bin/sh", "# comment", "x #y", "##", "\\##\\#",
    # numbers and things that look like them
    "0", "7", "-1", "-0", "0.5", ".5", "0123", "007", "00", "1e5", "1E5", "1e", "1e+", "0x10", "0X1F",
    "0x", "0x1p4", "0b101", "0b2", "0b", "+5", "-05", "+0", "1.", "1.0", "1.50", "-.5", "12345678901234",
    "123456789012345", "1e99999", "10 kB", "10kB", "1 kB kB", "1x kB", "+ kB", "1 kB x", "1 2", "+inf",
    "-inf", "-Infinity", "+nan", "inf", "nan", "1_000", "2024-01-01", "+", "-", "--", "1:2", "1/2",
    # Penlight's list delimiter
    "_blank_", "a_blank_b", "_blank", "blank_", "b_l_a_n_k",
    # line continuation
    "a\\", "\\\\", "a\\\\", "\\ a", "a\\ b", "a\\nb", "\\",
    # quotes and shell
    "'single'", '"double"', "it's", 'say "hi"', "'", '"', "''", '""', "$HOME", "${HOME}", "$(id)", "`id`",
    "a=b", "=", "==", "= x", "k = v", "[section]", "[", "]", "%s%d%n", "%", "\\x41", "a\\tb",
    # unicode
    "caf\u00e9", "\u65e5\u672c\u8a9e", "\U0001f389 party", "\u00a0nbsp", "nbsp\u00a0", "\u00fcn\u00efc#d\u00e9",
    "\u2028sep", "\ufeffbom",
    # blanks
    " lead", "trail ", "  both  ", "in  side",
    # long
    "x" * 4000, "#" * 500,
]


def corpus():
    vals = []
    for c in PRINTABLE:
        vals += [c, "a%sb" % c, "%sab" % c, "ab%s" % c]
    vals += SPECIAL
    seen, out = set(), []
    for v in vals:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def kong_line(key, value):
    """How the agent writes a value (docs/operations.md, "Rendering kong.conf and the env file"): '#' as '\\#'."""
    return "%s = %s\n" % (key, value.replace("#", "\\#"))


def representable(value):
    """Whether Kong's reader gives value back from kong_line()."""
    return kong_conf_reader.load_config_text(kong_line("k", value)) == {"k": value}


def conf_part(render_out):
    """The kong.conf part of `render` output."""
    first, _, rest = render_out.partition("\n")
    assert first.startswith("# ---- ") and first.endswith(" ----"), render_out[:200]
    conf, sep, _ = rest.partition("\n# ---- ")
    assert sep, render_out[-300:]
    return conf


class RoundTrip(StackTestCase):
    def key(self, i):
        return "x_rt_%03d" % i

    def render(self, sets=(), env=None, config=None):
        args = ["render"]
        for k, v in sets:
            args += ["--set", "kong.%s=%s" % (k, v)]
        return self.st.run_agent(args, config=config, env=env)

    def check_refusal(self, code, err, key, source, value):
        self.assertEqual(code, 15, "%r (as %s from %s): expected exit 15 (refused), got %d: %s\n%s"
                         % (value, key, source, code, agent_said(err), err))
        self.assertIn(key, err, "refusal of %r does not name the key\n%s" % (value, err))
        self.assertIn(source, err, "refusal of %r does not name the source %r\n%s" % (value, source, err))

    # ------------------------------------------------------------------
    def test_kong_settings_round_trip_or_refused(self):
        """--set kong.<name>=<value>: exact through a real run, or exit 15."""
        st = self.st
        vals = corpus()
        good = [(self.key(i), v) for i, v in enumerate(vals) if representable(v)]
        bad = [(self.key(i), v) for i, v in enumerate(vals) if not representable(v)]
        self.assertGreater(len(good), 300)
        self.assertGreater(len(bad), 30)

        # everything Kong can read back: one real boot with all of them
        args = ["run", "--oneshot"]
        for k, v in good:
            args += ["--set", "kong.%s=%s" % (k, v)]
        code, out, err = self.run_agent(args)
        if code != 0:
            self.fail("a value Kong reads back exactly was refused or the boot failed (exit %d):\n%s"
                      % (code, err[-3000:]))
        with open(st.kong_conf, "rb") as f:
            written = f.read()
        got = kong_conf_reader.load_config_text(written)
        mangled = [(v, got.get(k)) for k, v in good if got.get(k) != v]
        self.assertEqual(mangled, [], "values Kong reads differently from what was set (set, read)")

        # render prints the same kong.conf, plus provenance comments only
        code, out, err = self.render(good)
        self.assertExit(0, code)
        shown = conf_part(out)
        self.assertEqual(kong_conf_reader.load_config_text(shown), got)
        for k, _ in good:
            self.assertIn("# from --set\n%s = " % k, shown)
        no_comments = "\n".join(l for l in shown.split("\n") if not l.startswith("# from "))
        self.assertEqual(no_comments.encode(), written, "render's kong.conf differs from run's beyond '# from'")

        # everything it cannot: refused one by one (in parallel: one config
        # file written beforehand, never rewritten while agents read it)
        cfg = st.agent_config()

        def one(kv):
            return kv, self.render([kv], config=cfg)
        accepted = []
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            for (k, v), (code, out, err) in ex.map(one, bad):
                if code == 0:
                    accepted.append((v, kong_conf_reader.load_config_text(conf_part(out)).get(k)))
                    continue
                self.check_refusal(code, err, k, "--set", v)
        self.assertEqual(accepted, [], "values accepted although Kong reads them differently (set, Kong reads)")

    def test_conf_d_environment_and_template_sources(self):
        """The same through conf.d (kong-bootstrap's own format: '\\#' for '#'),
        KONG_BOOTSTRAP_KONG_*, and an operator template (read Kong's way)."""
        st = self.st
        vals = [v for v in SPECIAL + ["a%sb" % c for c in PRINTABLE]
                if representable(v) and not v.endswith("\\") and v == v.strip()]
        cfg = st.agent_config()
        confd = os.path.join(os.path.dirname(cfg), "conf.d")
        os.makedirs(confd, exist_ok=True)
        self.addCleanup(lambda: [os.unlink(os.path.join(confd, n)) for n in os.listdir(confd)])
        tmpl = os.path.join(st.tmp, "etc", "kong-template.conf")
        with open(os.path.join(confd, "50-kong.conf"), "w", encoding="utf-8") as f:
            f.write("# conf.d\n")
            for i, v in enumerate(vals):
                f.write("kong.x_cd_%03d = %s\n" % (i, v.replace("#", "\\#")))
        with open(tmpl, "w", encoding="utf-8") as f:
            f.write("# operator template\n")
            for i, v in enumerate(vals):
                f.write("x_tp_%03d = %s\n" % (i, v.replace("#", "\\#")))
        env = {"KONG_BOOTSTRAP_KONG_X_EV_%03d" % i: v for i, v in enumerate(vals)}
        cfg = st.agent_config(kong_conf_template=tmpl)
        code, out, err = self.run_agent(["render"], config=cfg, env=env)
        self.assertExit(0, code)
        got = kong_conf_reader.load_config_text(conf_part(out))
        for prefix in ("x_cd", "x_tp", "x_ev"):
            mangled = [(v, got.get("%s_%03d" % (prefix, i))) for i, v in enumerate(vals)
                       if got.get("%s_%03d" % (prefix, i)) != v]
            self.assertEqual(mangled, [], "%s: values Kong reads differently (set, read)" % prefix)
        for want in ("# from %s:2\nx_cd_000 = " % os.path.join(confd, "50-kong.conf"),
                     "# from %s:2\nx_tp_000 = " % tmpl,
                     "# from environment KONG_BOOTSTRAP_KONG_X_EV_000\nx_ev_000 = "):
            self.assertTrue(want in out, "provenance %r not in render output" % want)

        # refusals name the source: conf.d file:line, template file:line, environment
        with open(os.path.join(confd, "50-kong.conf"), "w") as f:
            f.write("# x\nkong.log_prefix = 0123\n")
        code, out, err = self.run_agent(["render"], config=st.agent_config())
        self.check_refusal(code, err, "log_prefix", "%s:2" % os.path.join(confd, "50-kong.conf"), "0123")
        os.unlink(os.path.join(confd, "50-kong.conf"))
        code, out, err = self.run_agent(["render"], config=st.agent_config(),
                                        env={"KONG_BOOTSTRAP_KONG_LOG_PREFIX": "1e5"})
        self.check_refusal(code, err, "log_prefix", "environment KONG_BOOTSTRAP_KONG_LOG_PREFIX", "1e5")
        for bad in ("a\x01b", "a\tb", "a\x7fb", "x_blank_y", "0x10"):
            with open(tmpl, "w", encoding="utf-8") as f:
                f.write("# operator template\nlog_level = info\nlog_prefix = %s\n" % bad)
            code, out, err = self.run_agent(["render"], config=st.agent_config(kong_conf_template=tmpl))
            self.check_refusal(code, err, "log_prefix", "%s:3" % tmpl, bad)

    def test_control_characters_refused_nothing_written(self):
        """A control character cannot be on a kong.conf line: refused, named,
        nothing written (through `run`)."""
        st = self.st
        for v in ("a\nb", "a\tb", "a\rb", "a\x1bb", "a\x7fb", "\x01"):
            code, out, err = self.run_agent(["run", "--oneshot", "--set", "kong.log_prefix=" + v])
            # --set values are checked when the configuration is merged (exit 10)
            # or when rendering (exit 15); either way refused with key and source
            self.assertIn(code, (10, 15), "%r: %s" % (v, self.explain()))
            self.assertIn("log_prefix", err)
            self.assertIn("--set", err)
            self.assertNothingWritten()
            self.assertFalse(any(l["argv"][:1] == ["start"] for l in st.kong_log_entries()))

    def test_refused_value_leaves_previous_files(self):
        st = self.st
        code, out, err = self.run_agent()
        self.assertExit(0, code)
        before = {p: (os.stat(p).st_ino, slurp(p)) for p in (st.kong_conf, st.kong_env_file)}
        code, out, err = self.run_agent(["run", "--oneshot", "--set", "kong.mem_cache_size=0128"])
        self.check_refusal(code, err, "mem_cache_size", "--set", "0128")
        for p, (ino, data) in before.items():
            self.assertEqual((os.stat(p).st_ino, slurp(p)), (ino, data), p)

    # ------------------------------------------------------------------
    def test_env_file_hostile_passwords(self):
        """Every printable password comes out of systemd's parser unchanged,
        and the stand-in Kong (started by the stand-in systemd with that
        EnvironmentFile=) logs in to Postgres with it."""
        st = self.st
        ascii_all = "".join(PRINTABLE)
        passwords = [
            ascii_all[1:],                              # every printable but the space, '\\' inside
            ascii_all[::-1][:-1],                       # '~' first, ' ' inside
            "'\"'\"' $HOME ${HOME} $(id) `id` $ \\\\ end",
            "#starts;with=comment a\\nb\\tc\\\\\"",
            "caf\u00e9 \u65e5\u672c\u8a9e \U0001f389 \u00a0" + "x" * 300,
        ]
        # Issue 14: what Kong's workers would read differently from
        # <prefix>/.kong_env is refused before anything is written
        refused = [
            (ascii_all, "starts with a blank"),
            (ascii_all[::-1] + "\\", "ends with a backslash"),
            (" ", "starts with a blank"),
            ("'\"'\"' $HOME ${HOME} $(id) `id` $ \\\\ ", "ends with a blank"),
        ]
        for pw, says in refused:
            with self.subTest(refused=pw[:40]):
                st.update_secret(password=pw)
                st.set_db_password(pw)
                code, out, err = self.run_agent()
                self.assertExit(15, code)
                self.assertIn(says, err)
                self.assertNothingWritten()
        for pw in passwords:
            with self.subTest(password=pw[:40]):
                st.update_secret(password=pw)
                st.set_db_password(pw)
                st.reset_unit()
                code, out, err = self.run_agent()
                self.assertExit(0, code)
                s = os.stat(st.kong_env_file)
                self.assertEqual(stat.S_IMODE(s.st_mode), 0o600)
                env = systemd_template.load_env_file(st.kong_env_file)
                self.assertEqual(env, {"KONG_PG_PASSWORD": pw},
                                 "EnvironmentFile= reads something else from:\n%r"
                                 % slurp(st.kong_env_file))
                with open(st.kong_conf, encoding="utf-8") as f:
                    conf = f.read()
                if len(pw) > 3:
                    self.assertNotIn(pw, conf)
                self.assertEqual(self.wait_ready(5)[0], 200, "Kong cannot log in with the env file's password")

    def test_env_file_control_character_refused(self):
        st = self.st
        for pw in ("pass\nword", "tab\there", "del\x7f"):
            with self.subTest(password=repr(pw)):
                st.update_secret(password=pw)
                st.set_db_password(pw)
                code, out, err = self.run_agent()
                self.assertExit(15, code)
                self.assertIn("password", err)
                self.assertNothingWritten()
                for frag in password_fragments(pw):
                    self.assertNotIn(frag, err + out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
