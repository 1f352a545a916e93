#!/usr/bin/python3
"""Issue 3, Secrets Manager through the fault proxy (tests/peers/faultproxy.py)
in front of moto: retryable faults are recovered and the node boots;
everything else fails fast (well under aws_timeout) with exit 12 and a
message an operator can act on; no secret reaches the output.

Run: /usr/bin/python3 tests/integration/test_aws_secrets.py
"""
import unittest

from aws_support import EXIT_SECRETS, AwsTestCase, tweak_key

THROTTLE = {"action": "throttle"}   # 400 {"__type": "ThrottlingException", "message": "Rate exceeded"}


class SecretsScenarios(AwsTestCase):
    def statuses(self):
        return [r["status"] for r in self.sm_requests()]

    # ------------------------------------------------------- retried --
    def test_throttling_three_times_then_success(self):
        self.st.set_faultproxy([dict(THROTTLE, count=3)])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertEqual(self.statuses(), [400, 400, 400, 200], self.explain())
        self.assertLess(self.elapsed, self.AWS_TIMEOUT, self.explain())

    def test_every_aws_throttling_code_is_retried(self):
        # codes alone (HTTP 400) must be enough to retry
        for code_name in ("ThrottlingException", "Throttling", "TooManyRequestsException",
                          "RequestLimitExceeded", "InternalServiceError", "InternalFailure",
                          "ServiceUnavailable"):
            with self.subTest(code=code_name):
                self.st.clear_faultproxy()
                self.st.set_faultproxy([{"action": "error", "status": 400, "code": code_name,
                                         "message": "injected", "count": 1}])
                code, out, err = self.run_timed(args=["render"])
                self.assertExit(0, code)
                self.assertEqual(self.statuses(), [400, 200], self.explain())

    def test_namespaced_throttling_code_is_retried(self):
        # "__type" with a "#" prefix, "Message" capitalised
        self.st.set_faultproxy([{"action": "error", "status": 400,
                                 "code": "com.amazonaws.secretsmanager#ThrottlingException",
                                 "message_key": "Message", "message": "Rate exceeded", "count": 2}])
        code, out, err = self.run_timed(args=["render"])
        self.assertExit(0, code)
        self.assertEqual(self.statuses(), [400, 400, 200], self.explain())

    def test_http_429_500_502_503_504_are_retried(self):
        self.st.set_faultproxy([
            {"action": "error", "status": 500, "code": "InternalServiceError", "count": 1},
            {"action": "body", "status": 502, "content_type": "text/html",
             "body": "<html><body>502 Bad Gateway</body></html>", "count": 1},
            {"action": "error", "status": 503, "code": "ServiceUnavailable", "count": 1},
            {"action": "body", "status": 504, "content_type": "text/html",
             "body": "<html><body>504 Gateway Time-out</body></html>", "count": 1},
            {"action": "error", "status": 429, "code": "TooManyRequestsException", "count": 1},
        ])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertEqual(sorted(self.statuses()), [200, 429, 500, 502, 503, 504], self.explain())

    def test_connection_reset_is_retried(self):
        self.st.set_faultproxy([{"action": "reset", "count": 2}])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertEqual(self.statuses(), [None, None, 200], self.explain())

    def test_connection_closed_without_answer_is_retried(self):
        self.st.set_faultproxy([{"action": "drop", "count": 2}])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        self.assertEqual(self.statuses(), [None, None, 200], self.explain())

    def test_slow_answer_within_the_attempt_timeout(self):
        self.st.set_faultproxy([{"action": "forward", "delay": 1.5, "count": 1}])
        code, out, err = self.run_timed(args=["render"])
        self.assertExit(0, code)
        self.assertEqual(self.statuses(), [200], self.explain())

    def test_throttled_past_the_deadline_fails_at_aws_timeout(self):
        self.st.set_faultproxy([THROTTLE])
        code, out, err = self.run_timed(config=self.config(aws_timeout=4), timeout=60)
        self.assertExit(EXIT_SECRETS, code)
        self.assertGreater(self.elapsed, 3, "gave up before aws_timeout\n" + self.explain())
        self.assertLess(self.elapsed, 4 + 4, "ran far past aws_timeout\n" + self.explain())
        self.assertGreater(len(self.sm_requests()), 2, self.explain())
        self.assertMessage(err, "ThrottlingException")
        self.assertNothingWritten()

    # ------------------------------------------------ bad answers --
    def test_truncated_json_fails_fast(self):
        self.st.set_faultproxy([{"action": "truncate"}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "not JSON")
        self.assertNothingWritten()

    def test_malformed_json_fails_fast(self):
        self.st.set_faultproxy([{"action": "body", "status": 200, "content_type": "text/html",
                                 "body": "<html><head><title>Captive portal</title></head></html>"}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "not JSON")
        self.assertNothingWritten()

    def test_oversized_body_fails_fast(self):
        self.st.set_faultproxy([{"action": "oversize", "size": 300 * 1024}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "larger than")
        self.assertNothingWritten()

    def test_oversized_chunked_body_fails_fast(self):
        # no Content-Length: the cap must hold while the body streams in
        self.st.set_faultproxy([{"action": "oversize", "size": 2 * 1024 * 1024, "chunked": True}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "larger than")
        self.assertNothingWritten()

    # ------------------------------------------------ the secret's content --
    def test_secret_without_password_names_the_field(self):
        self.st.update_secret(password=None)
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "'password'")
        self.assertNothingWritten()

    def test_secret_without_username_names_the_field(self):
        self.st.update_secret(username=None)
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "'username'")
        self.assertNothingWritten()

    # ------------------------------------------------ not retried --
    def test_access_denied_names_the_permission(self):
        self.st.set_faultproxy([{"action": "error", "status": 400, "code": "AccessDeniedException",
                                 "message": "Access denied"}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "secretsmanager:GetSecretValue")
        self.assertEqual(len(self.sm_requests()), 1, "AccessDenied is not retried\n" + self.explain())
        self.assertNothingWritten()

    def test_resource_not_found_names_the_secret(self):
        # real moto answer
        code, out, err = self.run_timed(config=self.config(secret_id="prod/kong/no-such-secret"))
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "prod/kong/no-such-secret")
        self.assertEqual(len(self.statuses()), 1, "ResourceNotFound is not retried\n" + self.explain())
        self.assertIn(self.statuses()[0], (400, 404), self.explain())   # AWS 400, moto 404
        self.assertNothingWritten()

    def test_decryption_failure_names_kms(self):
        self.st.set_faultproxy([{"action": "error", "status": 400, "code": "DecryptionFailure",
                                 "message": "Secrets Manager can't decrypt the protected secret text "
                                            "using the provided KMS key."}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "KMS")
        self.assertEqual(len(self.sm_requests()), 1, self.explain())

    def test_validation_error_is_not_retried(self):
        self.st.set_faultproxy([{"action": "error", "status": 400, "code": "InvalidParameterException",
                                 "message": "You provided an invalid value for a parameter."}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "InvalidParameterException")
        self.assertEqual(len(self.sm_requests()), 1, self.explain())

    def test_wrong_signature_is_a_clear_error(self):
        # moto recomputes the SigV4 signature and rejects it
        c = dict(self.st.role_credentials)
        c["SecretAccessKey"] = tweak_key(c["SecretAccessKey"])
        self.st.set_imds(credentials=c)
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "signature", "credentials", any_of=True)
        self.assertNothingWritten()

    def test_unknown_session_token_is_a_clear_error(self):
        self.st.set_imds(credentials=dict(self.st.role_credentials, Token="FQoGZXIvYXdzEBogusBogusBogus"))
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertMessage(err, "credentials")
        self.assertNothingWritten()

    # ------------------------------------------------------- leaks --
    def test_debug_output_through_faults_leaks_nothing(self):
        # -v logs every retry; a new IMDS token, a throttled and an expired
        # call: neither the password, the AWS secret key, the session token
        # nor an IMDS token may show (run_timed greps the output)
        self.set_imds_faults([{"path": "/latest/meta-data/mac", "exact": True, "invalidate_tokens": True,
                               "count": 1}])
        self.st.set_faultproxy([dict(THROTTLE, count=1),
                                {"action": "error", "status": 400, "code": "ExpiredTokenException",
                                 "message": "The security token included in the request is expired", "count": 1}])
        code, out, err = self.run_timed(args=["-v", "run", "--oneshot"])
        self.assertBooted(code)
        self.assertEqual(len(self.issued_imds_tokens()), 2, self.explain())
        self.assertEqual([r["status"] for r in self.sm_requests()], [400, 400, 200], self.explain())

    # ------------------------------------------- expired credentials --
    def test_expired_token_exception_rereads_credentials_once(self):
        self.st.set_faultproxy([{"action": "error", "status": 400, "code": "ExpiredTokenException",
                                 "message": "The security token included in the request is expired",
                                 "count": 1}])
        code, out, err = self.run_timed()
        self.assertBooted(code)
        sm, reads = self.sm_requests(), self.creds_reads()
        self.assertEqual([r["status"] for r in sm], [400, 200], self.explain())
        self.assertEqual(len(reads), 2, "credentials re-read after ExpiredTokenException\n" + self.explain())
        self.assertLess(sm[0]["done"], reads[1]["time"], self.explain())
        self.assertLess(reads[1]["time"], sm[1]["time"], self.explain())

    def test_expired_token_exception_twice_fails(self):
        self.st.set_faultproxy([{"action": "error", "status": 400, "code": "ExpiredTokenException",
                                 "message": "The security token included in the request is expired"}])
        code, out, err = self.run_timed()
        self.assertExit(EXIT_SECRETS, code)
        self.assertFailFast(self.AWS_TIMEOUT)
        self.assertEqual(len(self.sm_requests()), 2, "re-read once and retry once\n" + self.explain())
        self.assertEqual(len(self.creds_reads()), 2, self.explain())
        self.assertMessage(err, "credentials")
        self.assertNothingWritten()


if __name__ == "__main__":
    unittest.main(verbosity=2)
