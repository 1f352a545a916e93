#!/usr/bin/python3
"""Demo: bring up the test stack, run `kong-bootstrap -c CFG run --oneshot`,
show its stage lines live, then the rendered kong.conf and env file (password
redacted), and tear everything down.  Exit code = the agent's exit code.

Run: /usr/bin/python3 tests/demo.py   (KEEP_STACK=1 keeps the temp dir)
Agent: $KONG_BOOTSTRAP_BIN or build/agent/kong-bootstrap
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Stack, StackError  # noqa: E402


def redact(text):
    out = text
    for form in (Stack.PASSWORD,
                 "".join("\\" + c if c in '"\\`$' else c for c in Stack.PASSWORD)):
        out = out.replace(form, "<redacted>")
    return out


def main():
    try:
        with Stack() as st:
            cfg = st.agent_config()
            print("== stack: postgres 127.0.0.1:%d, moto %s, imds %s, bus %s" % (
                st.pg_port, st.moto_url, st.imds_url, st.dbus_address), flush=True)
            print("== $ %s -c %s run --oneshot" % (st.agent_bin, cfg), flush=True)
            code, out, err = st.run_agent(["run", "--oneshot"], config=cfg,
                                          stderr_cb=lambda l: sys.stdout.write("   | " + redact(l)) or sys.stdout.flush())
            if out.strip():
                print("== agent stdout:\n" + redact(out))
            print("== exit code: %d" % code)
            for title, path in (("kong.conf", st.kong_conf), ("env file", st.kong_env_file)):
                print("== %s (%s)" % (title, path))
                if os.path.exists(path):
                    print(redact(open(path).read()).rstrip())
                else:
                    print("(not written)")
            print("== kong migrations run: %s" % [r["argv"][1] for r in st.kong_log_entries()
                                                  if r["argv"][:1] == ["migrations"]])
            print("== systemd calls: %s" % [(c["method"], c["name"], c.get("result")) for c in st.systemd_calls()])
            print("== sd_notify: %s" % st.notify_messages())
            print("== GET /status/ready: %s" % (st.kong_ready(),))
            return code
    except StackError as e:
        print("demo: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
