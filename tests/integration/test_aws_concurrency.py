#!/usr/bin/python3
"""Issue 3, acceptance 2: 50 agents launched at once against a throttling
Secrets Manager all finish, and their retries are spread (full jitter), not
synchronized waves.

The fault proxy gives each agent its own listening port (so its requests
can be told apart), holds the 50 first GetSecretValue calls until all 50
have arrived and throttles them all at the same instant -- a fleet
launched together -- then throttles half of the requests for a few more
seconds.  The agents run `kong-bootstrap render` (IMDS, instance config,
Secrets Manager, render; nothing written, no Kong).  Not `check`: since
issue 18 it also runs `kong version` and `kong migrations list`, 100
stand-in processes that would measure the machine, not the backoff.

Statistics (see test_fifty_agents_under_throttling):
  * waves: retries are the requests after an agent's first; in no 50 ms
    window may more than 30 % of all retries fall (a fixed delay puts all
    50 first retries, about half of all retries, in one such window);
  * full jitter: the delay from the common throttling instant to each
    agent's first retry is spread over [0, ceiling): coefficient of
    variation > 0.3 (uniform: 0.58; "equal jitter" U(c/2, c): 0.19; a
    fixed delay: ~0) and the earliest is below a quarter of the latest;
  * bounded: no agent waits more than 21 s between two attempts (cap 20 s).

Run: /usr/bin/python3 tests/integration/test_aws_concurrency.py
"""
import os
import statistics
import subprocess
import time
import unittest
from collections import defaultdict

from aws_support import AwsTestCase
from common import agent_said
from stack import kill_group

N = 50
THROTTLE_FOR = 6.0      # s after launch, half of the requests are throttled
WAVE_WINDOW = 0.050     # s
WAVE_MAX_SHARE = 0.30


class Concurrency(AwsTestCase):
    LISTENERS = N
    IMDS_TIMEOUT = 30
    AWS_TIMEOUT = 45

    def launch(self, cfg):
        procs = []
        logdir = os.path.join(self.st.tmp, "log", "fleet-check")
        os.makedirs(logdir, exist_ok=True)
        for i in range(N):
            argv = self.st.agent_argv(["--set", "secretsmanager_endpoint=%s" % self.st.faultproxy_urls[i],
                                       "render"], cfg)
            out = open(os.path.join(logdir, "%02d.out" % i), "wb")
            err = open(os.path.join(logdir, "%02d.err" % i), "wb")
            p = subprocess.Popen(argv, env=self.st.agent_env(), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, start_new_session=True)
            out.close()
            err.close()
            procs.append((p, os.path.join(logdir, "%02d" % i)))
        return procs

    def test_fifty_agents_under_throttling(self):
        st = self.st
        cfg = self.config()
        t0 = time.time()
        st.set_faultproxy([
            {"action": "throttle", "barrier": N, "barrier_timeout": 30, "count": N},
            {"action": "throttle", "probability": 0.5, "until": t0 + THROTTLE_FOR},
        ])
        procs = self.launch(cfg)
        deadline = time.monotonic() + 55
        results = []
        try:
            for p, base in procs:
                left = max(0.1, deadline - time.monotonic())
                try:
                    p.wait(left)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            for p, base in procs:
                if p.poll() is None:
                    kill_group(p, 1)
                with open(base + ".out", errors="replace") as f:
                    out = f.read()
                with open(base + ".err", errors="replace") as f:
                    err = f.read()
                results.append((p.returncode, out, err))
        self.elapsed = time.time() - t0

        for i, (code, out, err) in enumerate(results):
            self.assertNoSecretsIn(out + err, "agent %d output" % i)
        failed = [(i, c, agent_said(e), (o + e)[-600:]) for i, (c, o, e) in enumerate(results) if c != 0]
        self.assertEqual(failed, [], "every agent must finish (exit 0)")

        reqs = [r for r in self.sm_requests()]
        by_agent = defaultdict(list)
        for r in reqs:
            by_agent[r["listener"]].append(r)
        self.assertEqual(sorted(by_agent), list(range(N)), "each agent called GetSecretValue")
        first_retry_delays, retries = [], []
        max_gap = 0.0
        for i, rs in sorted(by_agent.items()):
            rs.sort(key=lambda r: r["time"])
            self.assertEqual(rs[0]["status"], 400, "agent %d: first call throttled" % i)
            self.assertEqual(rs[-1]["status"], 200, "agent %d: last call succeeded: %s" % (i, rs))
            self.assertGreaterEqual(len(rs), 2, "agent %d retried" % i)
            first_retry_delays.append(rs[1]["time"] - rs[0]["done"])
            retries += [r["time"] for r in rs[1:]]
            for a, b in zip(rs, rs[1:]):
                max_gap = max(max_gap, b["time"] - a["done"])

        # --- waves
        retries.sort()
        worst, j = 0, 0
        for k in range(len(retries)):
            while retries[k] - retries[j] > WAVE_WINDOW:
                j += 1
            worst = max(worst, k - j + 1)
        share = worst / len(retries)
        summary = ("%d retries; busiest %d ms window holds %d (%.0f %%); first-retry delays "
                   "min %.3f max %.3f mean %.3f sd %.3f; max gap %.2f s; wall %.1f s"
                   % (len(retries), WAVE_WINDOW * 1000, worst, share * 100, min(first_retry_delays),
                      max(first_retry_delays), statistics.mean(first_retry_delays),
                      statistics.pstdev(first_retry_delays), max_gap, self.elapsed))
        print("\n" + summary)
        self.assertLessEqual(share, WAVE_MAX_SHARE, "synchronized retry wave: " + summary)

        # --- full jitter on the first retry after the common throttling instant
        mean = statistics.mean(first_retry_delays)
        cv = statistics.pstdev(first_retry_delays) / mean if mean > 0 else 0
        self.assertGreater(cv, 0.3, "first retries not jittered over [0, ceiling): " + summary)
        self.assertLess(min(first_retry_delays), 0.25 * max(first_retry_delays),
                        "first retries not jittered from 0 (full jitter): " + summary)

        # --- bounded
        self.assertLess(max_gap, 21.0, "backoff above its 20 s cap: " + summary)
        self.assertLess(self.elapsed, 55, summary)


if __name__ == "__main__":
    unittest.main(verbosity=2)
