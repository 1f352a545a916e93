#!/usr/bin/python3
"""The database password (and its distinctive substrings) must appear in no
file under the stack's temp dir except kong_env_file, in no agent output and
in no argv the agent gave kong -- after a full boot and after failures.
So must the values kong_secret.<setting> maps (issue 16): a license and a
certificate's private key, each line of which is looked for.

Run: /usr/bin/python3 tests/integration/test_secrets_leak.py
"""
import os
import subprocess
import tempfile
import unittest

from common import Stack, StackTestCase, password_fragments

LICENSE = '{"license":{"payload":{"customer":"Leak#Test; \\"Co\\" $x"},"signature":"9d8c7b6a5f4e3d2c1b0a"}}'


def make_key_pair():
    with tempfile.TemporaryDirectory() as d:
        key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=leak", "-keyout", key, "-out", crt],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(crt) as c, open(key) as k:
            return c.read(), k.read()


def mapped_fragments(*values):
    """Each mapped value, and each long line of it (a PEM's body lines)."""
    out = set()
    for v in values:
        out.add(v.rstrip("\n"))
        out.update(line for line in v.splitlines() if len(line) >= 16 and "-----" not in line)
    return sorted(out)


class SecretsLeak(StackTestCase):
    outputs = []

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.outputs = []
        cls.cert, cls.key = make_key_pair()
        cls.st.put_secret("prod/kong/leak-license", LICENSE)
        cls.st.put_secret("prod/kong/leak-tls", {"cert": cls.cert, "key": cls.key})

    def mapped_config(self, **kw):
        """The stack's config plus kong_secret.* mappings (license, pair)."""
        return self.st.agent_config(**{"kong_secret.license_data": "prod/kong/leak-license",
                                       "kong_secret.ssl_cert": "prod/kong/leak-tls\\#cert",
                                       "kong_secret.ssl_cert_key": "prod/kong/leak-tls\\#key"}, **kw)

    def all_fragments(self):
        # the certificate is public; its key and the license are not
        return password_fragments() + mapped_fragments(LICENSE, self.key)

    def run_and_keep(self, **kw):
        code, out, err = self.run_agent(**kw)
        self.outputs.append(("run %s" % kw, out, err))
        return code

    def scan(self):
        st = self.st
        frags = [f.encode() for f in self.all_fragments()]
        hits = []
        skip = {os.path.realpath(st.kong_env_file)}
        # Kong writes PEM content it was given (ssl_cert_key = <PEM>) to
        # <prefix>/ssl/ and uses that path (prefix_handler.lua): its copy,
        # on tmpfs like .kong_env, not a file of ours.
        kong_ssl = os.path.realpath(os.path.join(st.tmp, "run", "kong-prefix", "ssl")) + os.sep
        scanned = set()
        # <tmp>/run is a symlink to tmpfs (/dev/shm): followed, so the run
        # directory (status.json, the migrations' staging copy) is read too.
        for root, dirs, files in os.walk(st.tmp, followlinks=True):
            for fn in files:
                p = os.path.join(root, fn)
                # Kong's own <prefix>/.kong_env holds the password by
                # design (Kong writes it; the prefix is on tmpfs).
                if (os.path.realpath(p) in skip or fn == ".kong_env" or os.path.realpath(p).startswith(kong_ssl)
                        or not os.path.isfile(p)):
                    continue
                scanned.add(os.path.realpath(p))
                try:
                    with open(p, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                for f in frags:
                    if f in data:
                        hits.append("%s contains %r" % (p, f.decode()))
        if os.path.exists(st.status_file):
            self.assertIn(os.path.realpath(st.status_file), scanned)
        for what, out, err in self.outputs:
            for f in self.all_fragments():
                if f in out or f in err:
                    hits.append("agent output (%s) contains %r" % (what, f))
        for r in st.kong_log_entries():
            for a in r["argv"]:
                for f in self.all_fragments():
                    if f in a:
                        hits.append("kong argv %r contains %r" % (r["argv"], f))
        self.assertEqual(hits, [])

    def test_leaks_after_boot_and_failures(self):
        st = self.st
        self.assertEqual(self.run_and_keep(config=self.mapped_config()), 0, self.explain())
        self.assertEqual(self.run_and_keep(config=self.mapped_config()), 0, self.explain())
        with open(st.kong_env_file) as f:   # (so that the scan below can fail)
            self.assertIn("KONG_SSL_CERT_KEY=", f.read())
        for cmd in (["render"], ["render", "--diff"], ["check"]):
            code, out, err = self.run_agent(args=cmd, config=self.mapped_config())
            self.outputs.append((" ".join(cmd), out, err))
            self.assertNotIn(self.st.PASSWORD, out + err)
        self.scan()
        # failure paths: wrong DB password, kong failures, unit failure, a
        # mapped value Kong would alter
        st.reset()
        st.set_db_password("other")
        self.run_and_keep(config=self.mapped_config(pg_wait_timeout=3), timeout=90)
        st.reset()
        st.set_kong(fail="bootstrap")
        self.run_and_keep(config=self.mapped_config())
        st.reset()
        st.set_unit_failure("exit-code")
        self.run_and_keep(config=self.mapped_config())
        st.reset()
        self.run_and_keep(args=["-v", "run", "--oneshot"], config=self.mapped_config())
        st.reset()
        # (the key as a certificate: the stand-in Kong fails to load it)
        self.run_and_keep(config=st.agent_config(**{"kong_secret.ssl_cert": "prod/kong/leak-tls\\#key",
                                                    "kong_secret.ssl_cert_key": "prod/kong/leak-tls\\#key"}))
        self.scan()

    # ------------------------------------------------------------------
    # Kong masks pg_password in its own debug output; an error path that
    # dumps the connection settings does not.  The agent cuts the password
    # out of every line of Kong's output it logs (issue 19: with a stand-in
    # that never printed it, nothing tested that).
    def assertKongOutputRedacted(self, mode):
        self.st.set_kong(print_password=mode)
        code, out, err = self.run_agent()
        self.assertExit(0, code)
        masked = [l.replace(Stack.PASSWORD, "<the password>")
                  for l in (out + err).splitlines() if "connection settings" in l]
        leaked = [f for f in password_fragments() if f in out + err]
        if leaked:   # (not assertEqual: its message would print the password)
            self.fail("Kong printed the database password and the agent logged it unredacted (%s): %s"
                      % (mode, masked))
        self.assertTrue(masked and all("password=<redacted> " in l for l in masked),
                        "Kong's line with the password is not in the agent's log, redacted: %s\n%s"
                        % (masked, self.explain()))

    def test_kong_printing_the_password_is_redacted(self):
        self.assertKongOutputRedacted("line")

    def test_kong_printing_the_password_in_two_reads_is_redacted(self):
        """The password cut across two reads of Kong's pipe."""
        self.assertKongOutputRedacted("split")


if __name__ == "__main__":
    unittest.main(verbosity=2)
