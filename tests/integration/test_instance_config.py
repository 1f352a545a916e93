#!/usr/bin/python3
"""Configuration from the instance: tags kong-bootstrap:<key> and user-data
(#kong-bootstrap, or a MIME part text/x-kong-bootstrap, 7bit or base64).
Precedence file < conf.d < tags < user-data < environment < --set; 404 on
tags or user-data means none; the keys that choose programs, files and
IMDS are refused from the instance; tags set only their allowlist, and a
refused tag is reported and left out (test_trust.py plays the attacker);
every error names its source.

Run: /usr/bin/python3 tests/integration/test_instance_config.py
"""
import base64
import os
import re
import shutil
import unittest

from aws_support import EXIT_CONFIG, EXIT_SECRETS, AwsTestCase

OTHER_SECRET = "prod/kong/from-instance"
REFUSED = ("kong_bin", "kong_conf", "kong_env_file", "kong_unit", "imds_endpoint", "imds_timeout")
REFUSED_VALUES = {"kong_bin": "/tmp/evil", "kong_conf": "/etc/passwd", "kong_env_file": "/run/x.env",
                  "kong_unit": "evil.service", "imds_endpoint": "http://10.9.9.9", "imds_timeout": "1"}


def mime(parts, boundary="==BOUNDARY-kb-42=="):
    """Multipart user-data like cloud-init's write-mime-multipart."""
    out = ['Content-Type: multipart/mixed; boundary="%s"' % boundary, "MIME-Version: 1.0", ""]
    for ctype, body, encoding in parts:
        out.append("--" + boundary)
        out.append('Content-Type: %s; charset="us-ascii"' % ctype)
        out.append("MIME-Version: 1.0")
        if encoding == "base64":
            out.append("Content-Transfer-Encoding: base64")
            body = base64.encodebytes(body.encode()).decode().rstrip("\n")
        else:
            out.append("Content-Transfer-Encoding: 7bit")
        out.append("")
        out.append(body.rstrip("\n"))
    out.append("--%s--" % boundary)
    return "\n".join(out) + "\n"


CLOUD_CONFIG = "#cloud-config\npackages:\n  - jq\nruncmd:\n  - echo hello\n"


class InstanceConfig(AwsTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.st.put_secret(OTHER_SECRET, cls.st.default_secret())

    def setUp(self):
        super().setUp()
        self.confd = os.path.join(self.st.tmp, "etc", "conf.d")
        self.addCleanup(shutil.rmtree, self.confd, True)

    def render(self, config=None, env=None, sets=()):
        args = []
        for s in sets:
            args += ["--set", s]
        return self.run_timed(args=args + ["render"], config=config or self.config(), env=env, timeout=60)

    def rendered(self, out, key):
        m = re.findall(r"^%s\s*=\s*(.*?)\s*$" % re.escape(key), out, re.M)
        self.assertTrue(m, "%s not in render output\n%s" % (key, self.explain()))
        return m[-1]

    def asked_secret(self):
        return [r["secret_id"] for r in self.sm_requests()]

    # ------------------------------------------------------------ none --
    def test_no_tags_and_no_user_data_is_not_an_error(self):
        self.st.set_imds(tags=None, user_data=None)   # both 404
        code, out, err = self.render()
        self.assertExit(0, code)
        self.assertEqual({r["status"] for r in self.imds_requests()
                          if r["path"] in ("/latest/meta-data/tags/instance", "/latest/user-data")}, {404})

    def test_foreign_user_data_is_ignored(self):
        self.st.set_imds(user_data=CLOUD_CONFIG, tags={"Name": "kong-1"})
        code, out, err = self.render()
        self.assertExit(0, code)
        self.assertEqual(self.asked_secret(), [self.st.secret_name])

    def test_multipart_without_our_part_is_ignored(self):
        self.st.set_imds(user_data=mime([("text/cloud-config", CLOUD_CONFIG, "7bit"),
                                         ("text/x-shellscript", "#!/bin/sh\necho hi\n", "7bit")]))
        code, out, err = self.render()
        self.assertExit(0, code)

    # ------------------------------------------------------ secret_id --
    def test_secret_id_from_a_tag_is_refused(self):
        self.st.set_imds(tags={"Name": "kong-1", "kong-bootstrap:secret_id": OTHER_SECRET})
        code, out, err = self.render(config=self.config(secret_id=None))
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "refused instance tag kong-bootstrap:secret_id", "secret_id is not set")
        self.assertEqual(self.asked_secret(), [], self.explain())

    def test_secret_id_from_user_data_only(self):
        self.st.set_imds(user_data="#kong-bootstrap\nsecret_id = %s\n" % OTHER_SECRET)
        code, out, err = self.render(config=self.config(secret_id=None))
        self.assertExit(0, code)
        self.assertEqual(self.asked_secret(), [OTHER_SECRET], self.explain())

    def test_secret_id_missing_everywhere(self):
        code, out, err = self.render(config=self.config(secret_id=None))
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "secret_id")
        self.assertEqual(self.sm_requests(), [])

    def test_wrong_secret_id_error_names_user_data_line(self):
        self.st.set_imds(user_data="#kong-bootstrap\n# the database\nsecret_id = prod/kong/typo\n")
        code, out, err = self.render(config=self.config(secret_id=None))
        self.assertExit(EXIT_SECRETS, code)
        self.assertMessage(err, "prod/kong/typo", "user-data line 3")

    def test_secret_id_tag_does_not_override_the_file(self):
        self.st.set_imds(tags={"kong-bootstrap:secret_id": "prod/kong/typo"})
        code, out, err = self.render()
        self.assertExit(0, code)
        self.assertEqual(self.asked_secret(), [self.st.secret_name], self.explain())
        self.assertMessage(err, "refused instance tag kong-bootstrap:secret_id")

    # ---------------------------------------------------- precedence --
    def test_precedence_file_confd_tag_userdata_env_set(self):
        key = "admin_listen"
        os.makedirs(self.confd, exist_ok=True)
        cfg = self.config(admin_listen="127.0.0.1:9001")

        def expect(port, **kw):
            code, out, err = self.render(config=cfg, **kw)
            self.assertExit(0, code)
            self.assertEqual(self.rendered(out, key), "127.0.0.1:%d" % port, self.explain())

        expect(9001)
        with open(os.path.join(self.confd, "50-test.conf"), "w") as f:
            f.write("admin_listen = 127.0.0.1:9002\n")
        expect(9002)
        # Tags may not choose a listener: refused, the conf.d value stays.
        self.st.set_imds(tags={"kong-bootstrap:admin_listen": "127.0.0.1:9003"})
        expect(9002)
        self.st.set_imds(user_data="#kong-bootstrap\nadmin_listen = 127.0.0.1:9004\n")
        expect(9004)
        env = {"KONG_BOOTSTRAP_ADMIN_LISTEN": "127.0.0.1:9005"}
        expect(9005, env=env)
        expect(9006, env=env, sets=["admin_listen=127.0.0.1:9006"])

    def test_user_data_wins_over_tag_for_secret_id(self):
        self.st.set_imds(tags={"kong-bootstrap:secret_id": "prod/kong/from-tag-not-used"},
                         user_data="#kong-bootstrap\nsecret_id = %s\n" % OTHER_SECRET)
        code, out, err = self.render(config=self.config(secret_id="prod/kong/from-file-not-used"))
        self.assertExit(0, code)
        self.assertEqual(self.asked_secret(), [OTHER_SECRET], self.explain())

    def test_kong_setting_from_a_tag_is_refused(self):
        self.st.set_imds(tags={"kong-bootstrap:kong.log_level": "debug"})
        code, out, err = self.render()
        self.assertExit(0, code)
        self.assertNotRegex(out, r"(?m)^log_level\s*=")
        self.assertMessage(err, "refused instance tag kong-bootstrap:kong.log_level")

    def test_kong_setting_from_user_data(self):
        self.st.set_imds(user_data="#kong-bootstrap\nkong.log_level = debug\n")
        code, out, err = self.render()
        self.assertExit(0, code)
        self.assertEqual(self.rendered(out, "log_level"), "debug")

    # --------------------------------------------------------- MIME --
    def _mime_boot(self, encoding):
        ours = "# from the launch template\nsecret_id = %s\nadmin_listen = 127.0.0.1:9010\n" % OTHER_SECRET
        self.st.set_imds(user_data=mime([("text/cloud-config", CLOUD_CONFIG, "7bit"),
                                         ("text/x-kong-bootstrap", ours, encoding)]))
        code, out, err = self.render(config=self.config(secret_id=None))
        self.assertExit(0, code)
        self.assertEqual(self.asked_secret(), [OTHER_SECRET], self.explain())
        self.assertEqual(self.rendered(out, "admin_listen"), "127.0.0.1:9010")

    def test_mime_part_7bit(self):
        self._mime_boot("7bit")

    def test_mime_part_base64(self):
        self._mime_boot("base64")

    def test_mime_part_error_names_part_and_line(self):
        self.st.set_imds(user_data=mime([("text/cloud-config", CLOUD_CONFIG, "7bit"),
                                         ("text/x-kong-bootstrap", "bogus_key = 1\n", "7bit")]))
        code, out, err = self.render()
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "user-data MIME part 2 line 1", "bogus_key")
        self.assertEqual(self.sm_requests(), [])

    def test_mime_base64_part_error_names_part_and_line(self):
        self.st.set_imds(user_data=mime([("text/cloud-config", CLOUD_CONFIG, "7bit"),
                                         ("text/x-kong-bootstrap", "ready_timeout = 5\nbogus_key = 1\n",
                                          "base64")]))
        code, out, err = self.render()
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "user-data MIME part 2 line 2", "bogus_key")

    # ------------------------------------------------------- errors --
    def test_user_data_error_names_the_line(self):
        self.st.set_imds(user_data="#kong-bootstrap\n# comment\nbogus_key = 1\n")
        code, out, err = self.render()
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "user-data line 3", "bogus_key")
        self.assertEqual(self.sm_requests(), [])

    # A stray tag neither takes effect nor stops the boot: it is reported.
    def test_unknown_tag_key_names_the_tag(self):
        self.st.set_imds(tags={"kong-bootstrap:foo": "1"})
        code, out, err = self.render()
        self.assertExit(0, code)
        self.assertMessage(err, "refused instance tag kong-bootstrap:foo", "unknown key")

    def test_bad_tag_value_names_the_tag(self):
        self.st.set_imds(tags={"kong-bootstrap:ready_timeout": "soon"})
        code, out, err = self.render()
        self.assertExit(0, code)
        self.assertMessage(err, "refused instance tag kong-bootstrap:ready_timeout", "soon")

    def test_password_is_refused_from_user_data(self):
        self.st.set_imds(user_data="#kong-bootstrap\nkong.pg_password = hunter2\n")
        self.extra_secrets.append("hunter2")
        code, out, err = self.render()
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "user-data line 2", "pg_password")

    def test_refused_keys_from_tags(self):
        for key in REFUSED:
            with self.subTest(key=key):
                self.st.reset_imds()
                self.st.set_imds(tags={"kong-bootstrap:" + key: REFUSED_VALUES[key]},
                                 token_log=self.token_log)
                code, out, err = self.render()
                self.assertExit(0, code)
                self.assertMessage(err, "can only be set in the config file",
                                   "refused instance tag kong-bootstrap:" + key)

    def test_refused_keys_from_user_data(self):
        for key in REFUSED:
            with self.subTest(key=key):
                self.st.reset_imds()
                self.st.set_imds(user_data="#kong-bootstrap\n%s = %s\n" % (key, REFUSED_VALUES[key]),
                                 token_log=self.token_log)
                code, out, err = self.render()
                self.assertExit(EXIT_CONFIG, code)
                self.assertMessage(err, "can only be set in the config file", "user-data line 2")

    def test_refused_key_from_mime_part(self):
        ours = "kong_bin = /tmp/evil\n"
        self.st.set_imds(user_data=mime([("text/cloud-config", CLOUD_CONFIG, "7bit"),
                                         ("text/x-kong-bootstrap", ours, "base64")]))
        code, out, err = self.render()
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "can only be set in the config file", "user-data MIME part 2 line 1")

    def test_local_only_keys_still_work_from_the_environment(self):
        env = {"KONG_BOOTSTRAP_IMDS_TIMEOUT": "7"}
        code, out, err = self.render(env=env)
        self.assertExit(0, code)


if __name__ == "__main__":
    unittest.main(verbosity=2)
