#!/usr/bin/python3
"""Issue 18: cloudformation_signal, against tests/peers/cloudformation.py
(SigV4 recomputed by botocore for every call, AWS's refusals).

A ready node sends SUCCESS once, a failed boot FAILURE (SignalResource has
no reason field: the reason is in the journal and on the console, never in
the call), and a node without the setting sends nothing.

Run: /usr/bin/python3 tests/integration/test_cloudformation.py
"""
import json
import os
import unittest

from common import Stack, password_fragments
from lifecycle_common import LAUNCH_HOOK, LifecycleTestCase
from test_clock_skew import SKEW_RECORD, faketime_env

EXIT_CONFIG, EXIT_MIGRATIONS = 10, 14
TARGET = "%s/%s" % (Stack.CFN_STACK, Stack.CFN_RESOURCE)


class Signal(LifecycleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.st.start_cloudformation()

    def setUp(self):
        super().setUp()
        self.st.clear_cloudformation()

    def boot(self, signal=TARGET, env=None, **cfg):
        config = self.config(cloudformation_endpoint=self.st.cloudformation_url, cloudformation_signal=signal,
                             **cfg)
        code, out, err = self.run_agent(config=config, env=env)
        for frag in password_fragments():
            self.assertNotIn(frag, out + err, "the password in the agent's output")
        with open(self.st.cloudformation_log) if os.path.exists(self.st.cloudformation_log) else open(os.devnull) as f:
            self.assertNotIn(Stack.PASSWORD, f.read(), "the password reached CloudFormation")
        return code, err

    def signals(self):
        return self.st.cloudformation_calls()

    def explain(self):
        return super().explain() + "\n--- cloudformation calls ---\n%s" % json.dumps(self.signals(), indent=1)

    def assertSignal(self, call, status, stack=Stack.CFN_STACK):
        self.assertEqual((call["method"], call["path"]), ("POST", "/"))
        self.assertTrue(call["content_type"].startswith("application/x-www-form-urlencoded"), call)
        self.assertEqual(call["params"], {
            "Action": "SignalResource", "Version": "2010-05-15", "StackName": stack,
            "LogicalResourceId": Stack.CFN_RESOURCE, "UniqueId": Stack.INSTANCE_ID, "Status": status},
            self.explain())
        self.assertEqual(call["access_key"], self.st.role_credentials["AccessKeyId"])
        self.assertIn("x-amz-date", call["signed_headers"])

    # ------------------------------------------------------------------
    def test_ready_sends_success_once(self):
        code, err = self.boot()
        self.assertExit(0, code)
        calls = self.signals()
        self.assertEqual(len(calls), 1, self.explain())
        self.assertEqual(calls[0]["status"], 200, self.explain())
        self.assertSignal(calls[0], "SUCCESS")
        ready = self.events("ready-200")
        self.assertTrue(ready, self.explain())
        self.assertGreater(calls[0]["time"], ready[0]["time"], "signalled before Kong was ready")
        ready1 = [r["time"] for r in self.st.notify_records() if "READY=1" in r["lines"]]
        self.assertTrue(ready1)
        self.assertLess(calls[0]["time"], ready1[0], "READY=1 before the signal")
        self.assertIn("CloudFormation signalled: SUCCESS for resource '%s' of stack '%s'"
                      % (Stack.CFN_RESOURCE, Stack.CFN_STACK), err)

    def test_stack_arn(self):
        code, err = self.boot(signal="%s/%s" % (Stack.CFN_STACK_ID, Stack.CFN_RESOURCE))
        self.assertExit(0, code)
        calls = self.signals()
        self.assertEqual([c["status"] for c in calls], [200], self.explain())
        self.assertSignal(calls[0], "SUCCESS", stack=Stack.CFN_STACK_ID)

    def test_after_the_launch_hook(self):
        self.active(LAUNCH_HOOK)
        code, err = self.boot(lifecycle_hook=LAUNCH_HOOK)
        self.assertExit(0, code)
        done = self.calls("CompleteLifecycleAction")
        self.assertEqual(len(done), 1, self.explain())
        self.assertEqual(len(self.signals()), 1, self.explain())
        self.assertLess(done[0]["time"], self.signals()[0]["time"])

    def test_failed_boot_sends_failure(self):
        self.active(LAUNCH_HOOK)
        self.st.set_kong(fail="bootstrap")
        code, err = self.boot(lifecycle_hook=LAUNCH_HOOK)
        self.assertExit(EXIT_MIGRATIONS, code)
        calls = self.signals()
        self.assertEqual(len(calls), 1, self.explain())
        self.assertEqual(calls[0]["status"], 200, self.explain())
        self.assertSignal(calls[0], "FAILURE")
        # sent before the hook is abandoned (the instance goes away after that)
        abandon = self.calls("CompleteLifecycleAction")
        self.assertEqual([c["params"]["LifecycleActionResult"] for c in abandon], ["ABANDON"])
        self.assertLess(calls[0]["time"], abandon[0]["time"])
        self.assertIn("CloudFormation signalled: FAILURE", err)

    def test_not_configured_no_call(self):
        code, err = self.boot(signal=None)
        self.assertExit(0, code)
        self.assertEqual(self.signals(), [], self.explain())
        self.st.set_kong(fail="list")      # the schema is bootstrapped by now
        code, err = self.boot(signal=None)
        self.assertExit(EXIT_MIGRATIONS, code)
        self.assertEqual(self.signals(), [], self.explain())

    def test_unknown_resource_is_logged_not_fatal(self):
        code, err = self.boot(signal="%s/NoSuchGroup" % Stack.CFN_STACK)
        self.assertExit(0, code)
        calls = self.signals()
        self.assertEqual([(c["status"], c["code"]) for c in calls], [(400, "ValidationError")], self.explain())
        self.assertEqual(calls[0]["message"], "Resource NoSuchGroup does not exist for stack %s" % Stack.CFN_STACK)
        self.assertIn("SignalResource SUCCESS for resource 'NoSuchGroup' of stack '%s' failed: no resource "
                      "'NoSuchGroup' in stack '%s' (check cloudformation_signal)" % (Stack.CFN_STACK, Stack.CFN_STACK),
                      err)

    def test_unknown_stack(self):
        code, err = self.boot(signal="other-stack/%s" % Stack.CFN_RESOURCE)
        self.assertExit(0, code)
        self.assertEqual([c["message"] for c in self.signals()], ["Stack with id other-stack does not exist"])

    def test_resource_already_complete(self):
        code, _ = self.boot()
        self.assertExit(0, code)
        self.st.reset_unit()
        code, err = self.boot()
        self.assertExit(0, code)
        calls = self.signals()
        self.assertEqual([(c["status"], c["code"]) for c in calls], [(200, None), (400, "ValidationError")],
                         self.explain())
        self.assertEqual(calls[1]["message"], "Resource %s is in CREATE_COMPLETE state and cannot be signaled"
                         % Stack.CFN_RESOURCE)
        self.assertIn("the stack no longer waits for this signal", err)

    def test_access_denied(self):
        self.st.set_cloudformation(deny=["SignalResource"])
        code, err = self.boot()
        self.assertExit(0, code)
        self.assertEqual([c["code"] for c in self.signals()], ["AccessDenied"], "a 403 is not retried")
        self.assertIn("the instance role lacks cloudformation:SignalResource on stack '%s'" % Stack.CFN_STACK, err)

    def test_throttled_then_sent(self):
        self.st.set_cloudformation(faults=[{"status": 400, "code": "Throttling", "message": "Rate exceeded",
                                            "count": 2}])
        code, err = self.boot()
        self.assertExit(0, code)
        self.assertEqual([c["status"] for c in self.signals()], [400, 400, 200], self.explain())

    def test_skewed_clock_corrected(self):
        # Secrets Manager straight from moto (no skew check): CloudFormation
        # is the first to refuse the clock, 15 minutes slow.
        code, err = self.boot(env=faketime_env("-15m"))
        self.assertExit(0, code)
        calls = self.signals()
        self.assertEqual([(c["status"], c["code"]) for c in calls], [(403, "SignatureDoesNotMatch"), (200, None)],
                         self.explain())
        self.assertIn("Signature expired", calls[0]["message"])
        self.assertEqual(err.count(SKEW_RECORD), 1, err)
        self.assertSignal(calls[1], "SUCCESS")

    def test_wrong_signature(self):
        creds = dict(self.st.role_credentials)
        creds["SecretAccessKey"] = "not-the-" + creds["SecretAccessKey"][8:]
        self.st.set_cloudformation(credentials=[creds])
        code, err = self.boot()
        self.assertExit(0, code)
        self.assertEqual([c["code"] for c in self.signals()], ["SignatureDoesNotMatch"])
        self.assertIn("AWS rejected the request signature (SignatureDoesNotMatch)", err)

    def test_refused_from_a_tag(self):
        self.st.set_imds(tags={"kong-bootstrap:cloudformation_signal": TARGET})
        code, err = self.boot(signal=None)
        self.assertExit(0, code)
        self.assertIn("refused instance tag kong-bootstrap:cloudformation_signal", err)
        self.assertEqual(self.signals(), [], self.explain())

    def test_from_user_data(self):
        self.st.set_imds(user_data="#kong-bootstrap\ncloudformation_signal = %s\n" % TARGET)
        code, err = self.boot(signal=None)
        self.assertExit(0, code)
        self.assertEqual([c["status"] for c in self.signals()], [200], self.explain())

    def test_malformed_setting(self):
        for bad in ("kong-fleet", "kong-fleet/", "/KongGroup", "9stack/KongGroup", "kong-fleet/Kong-Group",
                    "arn:evil:x/KongGroup"):
            code, err = self.boot(signal=bad)
            self.assertExit(EXIT_CONFIG, code)
            self.assertIn("cloudformation_signal from ", err)
            self.assertIn("is not STACK/LogicalId", err)
        self.assertEqual(self.signals(), [])

    def test_failed_boot_under_valgrind(self):
        """The failure path with a signal and a console line frees what it holds."""
        self.st.set_kong(fail="bootstrap")
        config = self.config(cloudformation_endpoint=self.st.cloudformation_url, cloudformation_signal=TARGET)
        code, out, err = self.run_agent(config=config, valgrind=True, timeout=600)
        self.assertIn("Memcheck", err, "valgrind did not run")
        self.assertNotEqual(code, 99, "valgrind reported errors:\n" + err[-8000:])
        self.assertExit(EXIT_MIGRATIONS, code)
        self.assertIn("ERROR SUMMARY: 0 errors", err, err[-4000:])
        self.assertEqual([c["params"]["Status"] for c in self.signals()], ["FAILURE"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
