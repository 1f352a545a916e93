#!/usr/bin/python3
"""Issue 3, IMDSv2 and the role's credentials: every fault ends as it
should -- recovered and booted, or failed fast with exit 11 and a message
an operator can act on -- and a clean boot makes the documented minimum of
requests.

Run: /usr/bin/python3 tests/integration/test_aws_imds.py
"""
import os
import subprocess
import threading
import time
import unittest
from collections import Counter

from aws_support import EXIT_IMDS, AwsTestCase, iso_in, tweak_key  # first: sets sys.path
from stack import DEBIAN_PY, PEERS, free_port, kill_group, read_jsonl, tcp_open

TOKEN = "/latest/api/token"


def clean_boot_requests(mac, role):
    """The documented minimum of a clean boot (docs/operations.md, "Retries, IMDS and request counts")."""
    return [
        ("PUT", TOKEN),
        ("GET", "/latest/dynamic/instance-identity/document"),
        ("GET", "/latest/meta-data/mac"),
        ("GET", "/latest/meta-data/network/interfaces/macs/%s/vpc-ipv4-cidr-blocks" % mac),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/%s" % role),
        ("GET", "/latest/meta-data/tags/instance"),
        ("GET", "/latest/user-data"),
    ]


class ImdsScenarios(AwsTestCase):
    def expected(self):
        return clean_boot_requests(self.st.MAC, self.st.ROLE)

    def test_clean_boot_makes_exactly_the_documented_requests(self):
        code, out, err = self.run_timed()
        self.assertBooted(code)
        got = self.imds_paths()
        self.assertEqual(Counter(got), Counter(self.expected()),
                         "IMDS requests of a clean boot differ from the documented 8\n" + self.explain())
        self.assertEqual(got[0], ("PUT", TOKEN), "the token comes first")
        # one token, reused by every GET; never IMDSv1
        gets = [r for r in self.imds_requests() if r["method"] == "GET"]
        self.assertTrue(all(r["has_token"] and self.token_serial(r) == 1 for r in gets), self.explain())
        self.assertEqual([r["status"] for r in self.imds_requests() if r["path"] != "/latest/meta-data/tags/instance"
                          and r["path"] != "/latest/user-data"], [200] * 6, self.explain())
        sm = self.sm_requests()
        self.assertEqual(len(sm), 1, "a clean boot makes exactly one GetSecretValue\n" + self.explain())
        self.assertEqual(sm[0]["status"], 200)
        self.assertEqual(sm[0]["secret_id"], self.st.secret_name)

    def test_clean_boot_with_tags_adds_one_get_per_kong_bootstrap_tag(self):
        self.st.set_imds(tags={"Name": "kong-node-1", "team": "edge",
                               "kong-bootstrap:secret_version_stage": "AWSCURRENT",
                               "kong-bootstrap:ready_timeout": "20"})
        code, out, err = self.run_timed()
        self.assertBooted(code)
        want = self.expected() + [
            ("GET", "/latest/meta-data/tags/instance/kong-bootstrap:secret_version_stage"),
            ("GET", "/latest/meta-data/tags/instance/kong-bootstrap:ready_timeout")]
        self.assertEqual(Counter(self.imds_paths()), Counter(want), self.explain())
        self.assertEqual(len(self.sm_requests()), 1, self.explain())

    def test_token_ttl_is_six_hours(self):
        code, out, err = self.run_timed(args=["render"])
        self.assertExit(0, code)
        ttls = [r["ttl"] for r in read_jsonl(self.token_log)]
        self.assertEqual(ttls, [21600], self.explain())

    # ------------------------------------------------------------ ImdsTokens --
    def test_token_invalidated_mid_run_is_refreshed_once(self):
        # every issued token becomes invalid when the role is asked for:
        # that GET gets 401, the agent fetches one new token and retries
        self.set_imds_faults([{"path": "/latest/meta-data/iam/security-credentials/", "method": "GET",
                               "exact": True, "invalidate_tokens": True, "count": 1}])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        puts = self.imds_paths("PUT")
        self.assertEqual(len(puts), 2, "one new token after the 401\n" + self.explain())
        role_list = [r for r in self.imds_requests()
                     if r["path"] == "/latest/meta-data/iam/security-credentials/"]
        self.assertEqual([(r["status"], self.token_serial(r)) for r in role_list], [(401, 1), (200, 2)],
                         self.explain())
        later = [r for r in self.imds_requests() if r["time"] > role_list[-1]["time"] and r["method"] == "GET"]
        self.assertTrue(later and all(self.token_serial(r) == 2 for r in later),
                        "the new token is used from then on\n" + self.explain())
        self.assertEqual(len(self.imds_requests()), 10, self.explain())

    def test_token_expired_by_its_ttl_is_refreshed(self):
        # IMDS grants 1 s tokens; the mac request is answered 1.5 s late,
        # by then the token has expired -> 401 -> new token -> retry
        self.set_imds_faults([{"path": "/latest/meta-data/mac", "exact": True, "delay": 1.5, "count": 1}],
                             token_ttl_override=1)
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertGreaterEqual(len(self.imds_paths("PUT")), 2, self.explain())
        self.assertIn(401, [r["status"] for r in self.imds_requests()], self.explain())

    def test_persistent_401_fails_after_one_refresh(self):
        self.set_imds_faults([{"path": "/latest/meta-data/mac", "exact": True, "status": 401}])
        code, out, err = self.run_timed(config=self.config(imds_timeout=30))
        self.assertExit(EXIT_IMDS, code)
        self.assertFailFast(30)
        macs = [r for r in self.imds_requests() if r["path"] == "/latest/meta-data/mac"]
        self.assertEqual(len(macs), 2, "401 -> one new token and one retry, not more\n" + self.explain())
        self.assertEqual(len(self.imds_paths("PUT")), 2, self.explain())
        self.assertMessage(err, "meta-data/mac")
        self.assertEqual(self.sm_requests(), [])

    # ------------------------------------------------------------ ImdsDisabled --
    def test_imds_disabled_403_on_token(self):
        self.st.set_imds(disabled=True)
        code, out, err = self.run_timed(config=self.config(imds_timeout=30))
        self.assertExit(EXIT_IMDS, code)
        self.assertFailFast(30)
        self.assertMessage(err, "disabled")
        self.assertEqual(len(self.imds_requests()), 1, "403 is not retried\n" + self.explain())
        self.assertNothingWritten()

    def test_403_on_a_get_means_disabled(self):
        self.set_imds_faults([{"path": "/latest/meta-data/iam/", "status": 403}])
        code, out, err = self.run_timed(config=self.config(imds_timeout=30))
        self.assertExit(EXIT_IMDS, code)
        self.assertFailFast(30)
        self.assertMessage(err, "disabled")
        iam = [r for r in self.imds_requests() if r["path"].startswith("/latest/meta-data/iam/")]
        self.assertEqual(len(iam), 1, "403 is not retried\n" + self.explain())
        self.assertEqual(self.sm_requests(), [])

    def test_put_timeout_names_the_hop_limit(self):
        # a token PUT whose answer never arrives (hop limit 1 in a container)
        self.set_imds_faults([{"path": TOKEN, "method": "PUT", "hang": 60}])
        code, out, err = self.run_timed(config=self.config(imds_timeout=3), timeout=60)
        self.assertExit(EXIT_IMDS, code)
        self.assertMessage(err, "hop limit")
        self.assertLess(self.elapsed, 3 + 8, "the IMDS wait is bounded by imds_timeout\n" + self.explain())
        self.assertEqual(self.sm_requests(), [])

    # ------------------------------------------------------------ ImdsRecovery --
    def test_429_burst_recovered(self):
        self.set_imds_faults([{"path": TOKEN, "method": "PUT", "status": 429, "count": 3},
                              {"path": "/latest/meta-data/", "status": 429, "count": 3}])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertEqual(Counter(r["status"] for r in self.imds_requests())[429], 6, self.explain())

    def test_503_burst_recovered(self):
        self.set_imds_faults([{"path": "/latest/dynamic/", "status": 503, "count": 2},
                              {"path": "/latest/meta-data/", "status": 503, "count": 3},
                              {"path": "/latest/user-data", "status": 503, "count": 2}])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertEqual(Counter(r["status"] for r in self.imds_requests())[503], 7, self.explain())

    def test_not_answering_for_the_first_seconds_dropped(self):
        # connections accepted and closed without an answer for 2 s
        self.set_imds_faults([{"path": "/", "drop": True, "until": time.time() + 2}])
        code, out, err = self.run_timed(config=self.config(imds_timeout=15))
        self.assertBooted(code)
        self.assertGreater(self.elapsed, 1.9, "the agent waited for IMDS\n" + self.explain())
        self.assertLess(self.elapsed, 15, self.explain())

    def test_not_answering_for_the_first_seconds_silent(self):
        # requests accepted but never answered for 2 s (per-attempt timeouts)
        self.set_imds_faults([{"path": "/", "hang": 20, "until": time.time() + 2}])
        code, out, err = self.run_timed(config=self.config(imds_timeout=15))
        self.assertBooted(code)
        self.assertGreater(self.elapsed, 1.9, self.explain())
        self.assertLess(self.elapsed, 15, self.explain())

    def test_not_listening_for_the_first_seconds(self):
        # nothing listens on the IMDS address for 2 s (connection refused),
        # then an emulator comes up there
        port = free_port()
        late = {}

        def start_late():
            time.sleep(2)
            logf = open(os.path.join(self.st.tmp, "log", "imds-late.log"), "ab")
            late["p"] = subprocess.Popen([DEBIAN_PY, os.path.join(PEERS, "imds.py"), "--config",
                                          self.st.imds_config_path, "--port", str(port)],
                                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
            logf.close()
        t = threading.Thread(target=start_late, daemon=True)
        try:
            t.start()
            code, out, err = self.run_timed(config=self.config(imds_timeout=15,
                                                               imds_endpoint="http://127.0.0.1:%d" % port))
            self.assertBooted(code)
            self.assertGreater(self.elapsed, 1.9, self.explain())
            self.assertTrue(tcp_open(port), "late emulator did not come up")
        finally:
            t.join(10)
            kill_group(late.get("p"))

    def test_never_answering_fails_at_the_deadline(self):
        self.set_imds_faults([{"path": "/", "drop": True}])
        code, out, err = self.run_timed(config=self.config(imds_timeout=2), timeout=60)
        self.assertExit(EXIT_IMDS, code)
        self.assertGreater(self.elapsed, 1.9, "gave up before imds_timeout\n" + self.explain())
        self.assertLess(self.elapsed, 2 + 5, "waited far past imds_timeout\n" + self.explain())
        self.assertMessage(err, "IMDS")
        self.assertNothingWritten()

    # ------------------------------------------------------------ RoleCredentials --
    def test_code_failure_is_rejected(self):
        c = dict(self.st.role_credentials, Code="Failure")
        self.st.set_imds(credentials=c)
        code, out, err = self.run_timed(config=self.config(imds_timeout=30))
        self.assertExit(EXIT_IMDS, code)
        self.assertFailFast(30)
        self.assertMessage(err, "Failure")
        self.assertEqual(self.sm_requests(), [], "no AWS call with rejected credentials")
        self.assertNothingWritten()

    def test_code_other_than_success_is_rejected(self):
        c = dict(self.st.role_credentials, Code="AssumeRoleUnauthorizedAccess")
        self.st.set_imds(credentials=c)
        code, out, err = self.run_timed(config=self.config(imds_timeout=30))
        self.assertExit(EXIT_IMDS, code)
        self.assertFailFast(30)
        self.assertMessage(err, "AssumeRoleUnauthorizedAccess")
        self.assertEqual(self.sm_requests(), [])

    def _expiring_then_fresh(self, expires_in):
        # the first read returns credentials that expire (or have expired)
        # and would not even sign correctly; the second the real ones
        good = dict(self.st.role_credentials)
        stale = dict(good, SecretAccessKey=tweak_key(good["SecretAccessKey"]), Expiration=iso_in(expires_in))
        self.st.set_imds(credentials_sequence=[stale, good], fault_nonce=time.time())
        code, out, err = self.run_timed()
        self.assertBooted(code)
        reads = self.creds_reads()
        self.assertEqual(len(reads), 2, "credentials re-read once\n" + self.explain())
        sm = self.sm_requests()
        self.assertEqual([r["status"] for r in sm], [200],
                         "Secrets Manager called once, with the fresh credentials\n" + self.explain())
        self.assertLess(reads[1]["time"], sm[0]["time"], self.explain())

    def test_credentials_already_expired_are_reread(self):
        self._expiring_then_fresh(-600)

    def test_credentials_expiring_within_5_minutes_are_reread(self):
        self._expiring_then_fresh(120)

    def test_long_lived_credentials_are_read_once(self):
        self.st.set_imds(credentials=dict(self.st.role_credentials, Expiration=iso_in(6 * 3600)))
        code, out, err = self.run_timed(args=["render"])
        self.assertExit(0, code)
        self.assertEqual(len(self.creds_reads()), 1, self.explain())

    def test_ipv6_endpoint(self):
        """imds_endpoint = http://[fd00:ec2::254] on IPv6-only Nitro
        instances: the same IMDSv2 exchange over IPv6 (here [::1])."""
        url = self.st.start_imds_v6()
        self.assertTrue(url.startswith("http://[::1]:"), url)
        # The only IMDS the agent is told about listens on ::1 alone, so
        # every logged request came over IPv6.
        code, out, err = self.run_timed(config=self.config(imds_endpoint=url))
        self.assertBooted(code)
        got = self.imds_paths()
        self.assertEqual(Counter(got), Counter(self.expected()), self.explain())

    def test_credentials_from_the_environment(self):
        c = self.st.role_credentials
        env = {"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
               "AWS_SESSION_TOKEN": c["Token"]}
        # the role's credentials are broken: only the environment's work
        self.st.set_imds(credentials=dict(c, Code="Failure"))
        code, out, err = self.run_timed(env=env)
        self.assertBooted(code)
        self.assertEqual(self.creds_reads(), [], "no role credentials read\n" + self.explain())
        self.assertEqual([r["status"] for r in self.sm_requests()], [200], self.explain())


if __name__ == "__main__":
    unittest.main(verbosity=2)
