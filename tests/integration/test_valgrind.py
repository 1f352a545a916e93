#!/usr/bin/python3
"""A full `run --oneshot` under valgrind (memcheck, definite+indirect leaks
are errors -> exit 99) must exit 0.

Run: /usr/bin/python3 tests/integration/test_valgrind.py
"""
import unittest

from common import StackTestCase


class Valgrind(StackTestCase):
    def test_full_boot_under_valgrind(self):
        code, out, err = self.run_agent(valgrind=True, config=self.st.agent_config(ready_timeout=60),
                                        timeout=600)
        self.assertIn("Memcheck", err, "valgrind did not run")
        self.assertNotEqual(code, 99, "valgrind reported errors:\n" + err[-8000:])
        self.assertExit(0, code)
        self.assertIn("ERROR SUMMARY: 0 errors", err, err[-4000:])

    def test_failure_path_under_valgrind(self):
        self.st.update_secret(password=None)
        code, out, err = self.run_agent(valgrind=True, timeout=600)
        self.assertIn("Memcheck", err, "valgrind did not run")
        self.assertNotEqual(code, 99, "valgrind reported errors:\n" + err[-8000:])
        self.assertExit(12, code)


if __name__ == "__main__":
    unittest.main(verbosity=2)
