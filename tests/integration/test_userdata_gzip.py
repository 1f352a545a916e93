#!/usr/bin/python3
"""Gzip-compressed user-data through the IMDS emulator, as Terraform's
cloudinit_config writes it by default (gzip = true, base64_encode = true:
EC2 stores the decoded bytes, IMDS serves gzip): the agent's MIME part sets
its settings for a whole boot. A decompression bomb and corrupt or
truncated gzip fail the boot at config (exit 10) with a clear error, and
the files of the boot before stay as they were.

Run: /usr/bin/python3 tests/integration/test_userdata_gzip.py
"""
import base64
import gzip
import os
import unittest

from aws_support import EXIT_CONFIG, AwsTestCase
from common import slurp

OTHER_SECRET = "prod/kong/from-gzip-user-data"


def terraform_multipart(parts, boundary="MIMEBOUNDARY"):
    """hashicorp/terraform-provider-cloudinit's rendering (Go's
    mime/multipart writer): the outer headers, then per part
    Content-Transfer-Encoding, Content-Type and Mime-Version, CRLF line
    ends between parts."""
    out = 'Content-Type: multipart/mixed; boundary="%s"\nMIME-Version: 1.0\r\n\r\n' % boundary
    for ctype, body in parts:
        out += ("--%s\r\nContent-Transfer-Encoding: 7bit\r\nContent-Type: %s\r\nMime-Version: 1.0\r\n\r\n%s\r\n"
                % (boundary, ctype, body))
    return out + "--%s--\r\n" % boundary


CLOUD_CONFIG = "#cloud-config\npackages:\n  - jq\n"
OURS = "# from the launch template\nsecret_id = %s\nadmin_listen = 127.0.0.1:9011\n" % OTHER_SECRET


class GzipUserData(AwsTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.st.put_secret(OTHER_SECRET, cls.st.default_secret())

    def set_user_data_bytes(self, data):
        self.st.set_imds(user_data=None, user_data_base64=base64.b64encode(data).decode())
        self.addCleanup(self.st.set_imds, user_data_base64=None)

    def asked_secret(self):
        return [r["secret_id"] for r in self.sm_requests()]

    def boot_with_gzip_multipart(self):
        ud = terraform_multipart([("text/cloud-config", CLOUD_CONFIG), ("text/x-kong-bootstrap", OURS)])
        self.set_user_data_bytes(gzip.compress(ud.encode()))
        # The file names no secret: only user-data does.
        code, out, err = self.run_timed(config=self.config(secret_id=None))
        self.assertBooted(code)
        return err

    def test_terraform_gzip_multipart_sets_the_settings(self):
        err = self.boot_with_gzip_multipart()
        self.assertEqual(self.asked_secret(), [OTHER_SECRET], self.explain())
        with open(self.st.kong_conf) as f:
            conf = f.read()
        self.assertRegex(conf, r"(?m)^admin_listen = 127\.0\.0\.1:9011$", self.explain())
        self.assertIn("user-data: gzip-compressed user-data MIME part 2", err, self.explain())
        self.assertNotIn("gzip-compressed; kong-bootstrap reads only", err)
        ud = [r for r in self.imds_requests() if r["path"] == "/latest/user-data"]
        self.assertEqual([r["status"] for r in ud], [200], self.explain())

    def test_gzip_part_inside_multipart(self):
        """A part of a gzip type, as cloud-init inflates it (DECOMP_TYPES)."""
        part = base64.encodebytes(gzip.compress(("#kong-bootstrap\n" + OURS).encode())).decode()
        ud = ('Content-Type: multipart/mixed; boundary="b"\nMIME-Version: 1.0\n\n'
              "--b\nContent-Type: text/cloud-config\n\n%s\n"
              "--b\nContent-Type: application/x-gzip\nContent-Transfer-Encoding: base64\n\n%s\n--b--\n"
              % (CLOUD_CONFIG, part))
        self.st.set_imds(user_data=ud)
        code, out, err = self.run_timed(args=["render"], config=self.config(secret_id=None))
        self.assertExit(0, code)
        self.assertEqual(self.asked_secret(), [OTHER_SECRET], self.explain())
        self.assertRegex(out, r"(?m)^admin_listen = 127\.0\.0\.1:9011", self.explain())

    def test_decompression_bomb_is_refused_naming_the_cap(self):
        bomb = gzip.compress(b"#kong-bootstrap\n" + b"#" * (8 * 1024 * 1024))
        self.assertLess(len(bomb), 16 * 1024)     # fits EC2's user-data limit
        self.set_user_data_bytes(bomb)
        code, out, err = self.run_timed()
        self.assertExit(EXIT_CONFIG, code)
        self.assertMessage(err, "user-data: gzip data inflates to more than 1048576 bytes (the cap)",
                           "decompression bomb")
        self.assertEqual(self.sm_requests(), [], self.explain())
        self.assertNothingWritten()
        self.assertFailFast(self.AWS_TIMEOUT)

    def test_broken_gzip_fails_and_keeps_the_previous_boot(self):
        self.boot_with_gzip_multipart()
        before = {p: slurp(p) for p in (self.st.kong_conf, self.st.kong_env_file)}
        modes = {p: os.stat(p).st_mode for p in before}
        good = gzip.compress(terraform_multipart([("text/x-kong-bootstrap", OURS)]).encode())
        broken = {
            "truncated": (good[:len(good) // 2], "the gzip data is truncated"),
            "corrupt": (good[:-8] + bytes([good[-8] ^ 0xff]) + good[-7:], "the gzip data is corrupt"),
            "trailing bytes": (good + b"junk", "4 byte(s) that are not gzip after gzip member 1"),
        }
        for name, (data, message) in broken.items():
            with self.subTest(name):
                self.set_user_data_bytes(data)
                code, out, err = self.run_timed(config=self.config(secret_id=None))
                self.assertExit(EXIT_CONFIG, code)
                self.assertMessage(err, "config: error: user-data: " + message)
                for p, content in before.items():
                    self.assertEqual(slurp(p), content, "%s changed\n%s" % (p, self.explain()))
                    self.assertEqual(os.stat(p).st_mode, modes[p], p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
