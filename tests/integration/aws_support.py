#!/usr/bin/python3
"""Helpers shared by test_aws_*.py and test_instance_config.py (no tests here).

AwsTestCase = StackTestCase + the fault proxy in front of moto (the agent's
secretsmanager_endpoint points at it, so every GetSecretValue is counted
and can be faulted) + the IMDS emulator's token log, and:

  * run_timed(): runs the agent, measures wall time (self.elapsed,
    time.monotonic) and asserts that no secret reached its output: the DB
    password (common.password_fragments), every AWS secret key and session
    token the test handed out, and every IMDS token the emulator issued;
  * imds_requests(), sm_requests(), creds_reads(): what the agent asked;
  * assertFailFast(): the run ended well under its stage deadline.
"""
import os
import time

from common import StackTestCase, password_fragments

EXIT_OK = 0
EXIT_CONFIG, EXIT_IMDS, EXIT_SECRETS, EXIT_DB, EXIT_MIGRATIONS, EXIT_RENDER, EXIT_SYSTEMD, EXIT_READY = \
    10, 11, 12, 13, 14, 15, 16, 17

GET_SECRET = "secretsmanager.GetSecretValue"


def iso_in(seconds):
    """An AWS Expiration timestamp `seconds` from now (negative: past)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def tweak_key(k):
    """A different secret of the same shape (moto will reject its signatures)."""
    return ("B" if k[0] == "A" else "A") + k[1:]


class AwsTestCase(StackTestCase):
    IMDS_TIMEOUT = 10     # s; the IMDS boot wait of every run unless a test says otherwise
    AWS_TIMEOUT = 30      # s; the Secrets Manager stage deadline
    LISTENERS = 1         # fault proxy listening sockets (one per concurrent agent)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.st.start_faultproxy(listeners=cls.LISTENERS)
        except BaseException:
            cls.st.__exit__(None, None, None)
            cls.st = None
            raise

    def setUp(self):
        super().setUp()
        st = self.st
        st.clear_faultproxy()
        self.token_log = os.path.join(st.tmp, "log", "imds-tokens.jsonl")
        if os.path.exists(self.token_log):
            os.unlink(self.token_log)
        st.set_imds(token_log=self.token_log, fault_nonce=time.time())
        self.extra_secrets = []    # further secret strings a test hands out
        self.elapsed = None

    # ------------------------------------------------------------ running --
    def config(self, **overrides):
        """The stack's agent config, Secrets Manager through the fault proxy,
        short IMDS and AWS deadlines."""
        kw = {"secretsmanager_endpoint": self.st.faultproxy_url,
              "imds_timeout": self.IMDS_TIMEOUT,
              "aws_timeout": self.AWS_TIMEOUT}
        kw.update(overrides)
        return self.st.agent_config(**kw)

    def run_timed(self, args=("run", "--oneshot"), config=None, env=None, timeout=90):
        t0 = time.monotonic()
        code, out, err = self.run_agent(args=list(args), config=config or self.config(), env=env,
                                        timeout=timeout)
        self.elapsed = time.monotonic() - t0
        self.assertNoSecretsIn(out + "\n" + err, "agent output")
        notify = "\n".join(l for m in self.st.notify_messages() for l in m)
        self.assertNoSecretsIn(notify, "sd_notify messages")
        return code, out, err

    def set_imds_faults(self, faults, **more):
        self.st.set_imds(faults=list(faults), fault_nonce=time.time(), **more)

    # -------------------------------------------------------------- leaks --
    def issued_imds_tokens(self):
        from stack import read_jsonl
        return [r["token"] for r in read_jsonl(self.token_log)]

    def secrets_in_play(self):
        st = self.st
        out = [(f, "DB password fragment") for f in password_fragments()]
        creds = [st.role_credentials, st.admin_credentials]
        creds += [c for c in (st.imds_config.get("credentials_sequence") or []) if c]
        if st.imds_config.get("credentials"):
            creds.append(st.imds_config["credentials"])
        for c in creds:
            if c.get("SecretAccessKey"):
                out.append((c["SecretAccessKey"], "AWS secret access key"))
            if c.get("Token"):
                out.append((c["Token"], "AWS session token"))
        out += [(t, "IMDS token") for t in self.issued_imds_tokens()]
        out += [(s, "test secret") for s in self.extra_secrets]
        return [(s, what) for s, what in out if s and len(s) >= 4]

    def assertNoSecretsIn(self, text, where):
        hits = sorted({what for s, what in self.secrets_in_play() if s in text})
        self.assertEqual(hits, [], "%s leaks: %s\n%s" % (where, ", ".join(hits), self.explain()))

    # ----------------------------------------------------------- requests --
    def imds_requests(self):
        return self.st.imds_requests()

    def imds_paths(self, method=None):
        return [(r["method"], r["path"]) for r in self.imds_requests()
                if method is None or r["method"] == method]

    def token_serial(self, rec):
        """Which of this test's IMDS tokens a request carried: 1, 2, ... (None: none)."""
        from stack import read_jsonl
        serials = [r["serial"] for r in read_jsonl(self.token_log)]
        if rec.get("token_serial") is None or not serials:
            return None
        return rec["token_serial"] - min(serials) + 1

    def sm_requests(self):
        return [r for r in self.st.faultproxy_requests() if (r.get("target") or "") == GET_SECRET]

    def creds_reads(self):
        role_path = "/latest/meta-data/iam/security-credentials/%s" % self.st.ROLE
        return [r for r in self.imds_requests() if r["method"] == "GET" and r["path"] == role_path]

    # ---------------------------------------------------------- asserting --
    def explain(self):
        base = super().explain()
        imds = ["%s %s -> %s%s" % (r["method"], r["path"], r["status"],
                                   " (fault %s)" % r["fault"] if r.get("fault") is not None else "")
                for r in self.st.imds_requests()]
        sm = ["%s %s -> %s (%s)" % (r.get("target"), r.get("secret_id"), r.get("status"), r.get("action"))
              for r in self.st.faultproxy_requests()]
        return "%s\n--- elapsed ---\n%s\n--- IMDS requests ---\n%s\n--- proxy requests ---\n%s" % (
            base, "%.2f s" % self.elapsed if self.elapsed is not None else "-",
            "\n".join(imds), "\n".join(sm))

    def assertFailFast(self, deadline):
        """Well under the deadline: less than a third of it."""
        self.assertLess(self.elapsed, deadline / 3.0,
                        "took %.2f s, deadline %s s: a non-retryable error must fail fast\n%s"
                        % (self.elapsed, deadline, self.explain()))

    def assertMessage(self, text, *needles, any_of=False):
        low = text.lower()
        found = [n for n in needles if n.lower() in low]
        if any_of:
            self.assertTrue(found, "none of %r in the agent's message\n%s" % (needles, self.explain()))
        else:
            self.assertEqual(found, list(needles), "expected %r in the agent's message\n%s"
                             % (needles, self.explain()))

    def assertBooted(self, code):
        self.assertExit(EXIT_OK, code)
        self.assertEqual(self.wait_ready(5)[0], 200, self.explain())
