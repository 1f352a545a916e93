#!/usr/bin/python3
"""System test: the .deb under real systemd (issue 6, "The system test tier").

1. builds the .deb (packaging/build-packages --deb-only, into a temp dir;
   KONG_BOOTSTRAP_DEB=path uses a built one instead);
2. copies a cached Debian 12 root (debootstrap --variant=minbase, made once
   per machine in /var/cache/kong-bootstrap-test: tests/system/container.py);
3. installs the package there (dpkg -i in systemd-nspawn, no boot) and a
   stand-in Kong shaped like Kong's package (tests/system/root/: kong.service
   with ExecStartPre=kong prepare and ExecStart=nginx, whose process is
   tests/peers/kong's `start`, serving /status/ready);
4. points /etc/kong-bootstrap/kong-bootstrap.conf at the test stack
   (tests/stack.py: PostgreSQL, moto_server, the IMDSv2 emulator) on
   loopback and boots the root with systemd-nspawn -b (host network);
5. checks, in the container: kong-bootstrap and kong active; every stage
   in the journal in order with its MESSAGE_ID and `journalctl -x` showing
   the catalog; Kong's environment holding exactly the (hostile) password;
   a reboot reaching the same state without a migration; a wrong
   secret_id leaving kong-bootstrap failed (status=12, the cause named),
   kong.service not started even though enabled, and the failure's one
   line on the container's console (nspawn's pty, captured here: what
   `aws ec2 get-console-output` shows of an instance's /dev/console),
   written from inside the unit's sandbox.

UPDATE_OPERATOR_VIEW=1 rewrites tests/system/operator-view.txt from this
run (systemctl status / journalctl of a good boot and of the failed one).
KEEP_SYSTEM_ROOT=1 keeps the per-run root (its journal: journalctl -D
ROOT/var/log/journal). Needs root (systemd-nspawn). Never boots systemd
against the host's root.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, HERE)

from stack import Stack, free_port  # noqa: E402
from container import Container, ContainerError, log, prepare_run_root  # noqa: E402

STAGES = [
    ("config", "892ad107e3e2463c999bc824eb8ef8d0"),
    ("imds", "0950b45a52694345ae65cc070ad6cbc5"),
    ("secrets", "152e1d3822df4e5f93fc8d16124dd47f"),
    ("database", "4d1e5ec58db8415c81ef20070e751c37"),
    ("migrations", "da2ac317fd514e6898ab87777b1e9982"),
    ("render", "26401c179f2f454186af30e4f6b380fe"),
    ("start", "2582524e415d4437afcd023f0e6c4b90"),
    ("ready", "c10998842e144f6b811bc2140e292724"),
    ("boot", "ca3461ce353d400cbc0a021f325fc846"),
]
BOOT_FAILED_ID = "5e725d8e9386489fb031be14d2736643"
STANDIN_LOG = "etc/kong/standin-invocations.jsonl"   # relative to the root
OPERATOR_VIEW = os.path.join(HERE, "operator-view.txt")
BAD_SECRET = "prod/kong/no-such-secret"
DRAIN_TIMEOUT = 2   # drain_timeout in the container (default 30 s) when the agent has it

failures = []


def check(cond, what, detail=""):
    if cond:
        print("ok   %s" % what, flush=True)
    else:
        print("FAIL %s%s" % (what, ("\n     " + detail.replace("\n", "\n     ")) if detail else ""), flush=True)
        failures.append(what)
    return cond


def catalog_subjects():
    """MESSAGE_ID -> Subject from units/kong-bootstrap.catalog."""
    out, cur = {}, None
    with open(os.path.join(REPO, "units", "kong-bootstrap.catalog"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^-- ([0-9a-f]{32})\s*$", line)
            if m:
                cur = m.group(1)
            elif cur and line.startswith("Subject: "):
                out[cur] = line[len("Subject: "):].strip()
                cur = None
    return out


# ---------------------------------------------------------------- build --
def build_deb(workdir):
    given = os.environ.get("KONG_BOOTSTRAP_DEB")
    if given:
        log("using %s (KONG_BOOTSTRAP_DEB)" % given)
        return given
    dist = os.path.join(workdir, "dist")
    argv = [os.path.join(REPO, "packaging", "build-packages"), "--deb-only"]
    if os.environ.get("KONG_BOOTSTRAP_SYSTEM_REF"):
        argv += ["--ref", os.environ["KONG_BOOTSTRAP_SYSTEM_REF"]]
    log("building the .deb: %s" % " ".join(argv[1:] or ["packaging/build-packages"]))
    env = dict(os.environ, DIST=dist)
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise ContainerError("packaging/build-packages failed:\n%s" % r.stdout[-4000:])
    debs = [d for d in glob.glob(os.path.join(dist, "kong-bootstrap_*.deb"))]
    if len(debs) != 1:
        raise ContainerError("expected one kong-bootstrap_*.deb in %s, found %s" % (dist, debs))
    return debs[0]


# -------------------------------------------------------------- install --
def install(ct, root, deb):
    log("installing %s and the stand-in Kong" % os.path.basename(deb))
    r = ct.nspawn_run(["dpkg", "-i", "/tmp/" + os.path.basename(deb)], binds=["%s:/tmp/%s" % (deb, os.path.basename(deb))])
    print(r.stdout.decode("utf-8", "replace").rstrip(), flush=True)
    # Kong's package: /usr/local/bin/kong, the OpenResty nginx, kong.service,
    # /etc/kong with kong.conf.default and the prefix /usr/local/kong.
    src = os.path.join(HERE, "root")
    for dirpath, _, files in os.walk(src):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            dst = os.path.join(root, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(dirpath, f), dst)
    os.makedirs(os.path.join(root, "usr/local/lib/kong-standin"), exist_ok=True)
    # The stand-in and Kong's kong.conf reader it re-reads .kong_env with
    # (what Kong's workers do).
    for f in ("kong", "kong_conf_reader.py"):
        shutil.copy2(os.path.join(REPO, "tests", "peers", f), os.path.join(root, "usr/local/lib/kong-standin", f))
    os.makedirs(os.path.join(root, "etc/kong"), exist_ok=True)
    with open(os.path.join(root, "etc/kong/kong.conf.default"), "w") as f:
        f.write("# stand-in for Kong's kong.conf.default (tests/system)\n")
    os.makedirs(os.path.join(root, "usr/local/kong"), exist_ok=True)


def write_config(root, st, status_port, **overrides):
    cfg = {
        "secret_id": st.secret_name,
        "imds_endpoint": st.imds_url,
        "imds_timeout": "30",
        "secretsmanager_endpoint": st.moto_url,
        "pg_sslmode": "disable",
        "pg_wait_timeout": "30",
        "status_listen": "127.0.0.1:%d" % status_port,
        "ready_timeout": "60",
        "kong_bin": "/usr/local/bin/kong",
    }
    if agent_drains(root):
        cfg["drain_timeout"] = str(DRAIN_TIMEOUT)
    cfg.update(overrides)
    with open(os.path.join(root, "etc/kong-bootstrap/kong-bootstrap.conf"), "w") as f:
        f.write("# tests/system: the test stack on the host's loopback\n")
        for k, v in cfg.items():
            f.write("%s = %s\n" % (k, v))


def standin_log(root):
    path = os.path.join(root, STANDIN_LOG)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def rotate_standin_log(root, tag):
    path = os.path.join(root, STANDIN_LOG)
    if os.path.exists(path):
        os.rename(path, path + "." + tag)


def invoked(entries, *argv_prefix):
    return [e for e in entries if e["argv"][:len(argv_prefix)] == list(argv_prefix)]


# --------------------------------------------------------------- checks --
def journal_records(ct, unit="kong-bootstrap"):
    r = ct.run(["journalctl", "-u", unit, "-b", "0", "-o", "json", "--no-pager"])
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def check_good_boot(ct, st, status_port, boot, first):
    r = ct.run(["systemctl", "is-active", "kong-bootstrap", "kong"], check=False)
    check(r.stdout.split() == ["active", "active"], "boot %d: systemctl is-active kong-bootstrap kong -> active active" % boot,
          r.stdout + r.stderr + "\n" + ct.run(["systemctl", "status", "--no-pager", "-l", "kong-bootstrap", "kong"],
                                              check=False).stdout)

    recs = journal_records(ct)
    # the agent's stage records (systemd's own "Starting/Started" records
    # carry MESSAGE_IDs too, but no STAGE)
    stage_recs = [x for x in recs if x.get("MESSAGE_ID") and x.get("STAGE")]
    seen = [(x["STAGE"], x["MESSAGE_ID"]) for x in stage_recs]
    # One record per stage, in order; the config stage has a second record
    # right after imds (instance tags and user-data merged).
    expected = list(STAGES)
    if seen[2:3] == [STAGES[0]]:
        expected.insert(2, STAGES[0])
    check(seen == expected, "boot %d: journal has every stage in order with its MESSAGE_ID" % boot,
          "expected %s\ngot      %s\n%s" % (expected, seen, "\n".join(x.get("MESSAGE", "") for x in recs)))
    check(all(x.get("_SYSTEMD_UNIT") == "kong-bootstrap.service" and x.get("SYSLOG_IDENTIFIER") == "kong-bootstrap"
              for x in stage_recs),
          "boot %d: stage records come from kong-bootstrap.service" % boot,
          repr([(x.get("_SYSTEMD_UNIT"), x.get("SYSLOG_IDENTIFIER")) for x in stage_recs]))
    mig = [x.get("MESSAGE", "") for x in stage_recs if x.get("STAGE") == "migrations"]

    subjects = catalog_subjects()
    check(all(i in subjects for _, i in STAGES) and BOOT_FAILED_ID in subjects,
          "every MESSAGE_ID is in units/kong-bootstrap.catalog")
    rx = ct.run(["journalctl", "-x", "-u", "kong-bootstrap", "-b", "0", "--no-pager"]).stdout
    missing = [subjects.get(i, i) for _, i in STAGES if "Subject: " + subjects.get(i, i) not in rx]
    check(not missing, "boot %d: journalctl -x shows the catalog text of every stage" % boot,
          "missing: %s\n%s" % (missing, rx[-3000:]))

    # Kong's process: the unit's main process (nginx stand-in exec'd into
    # `kong start`), its environment from the env file kong-bootstrap wrote
    pid = ct.show("kong", "MainPID")["MainPID"]
    env = ct.run(["cat", "/proc/%s/environ" % pid], text=False).stdout
    vals = [e[len(b"KONG_PG_PASSWORD="):] for e in env.split(b"\0") if e.startswith(b"KONG_PG_PASSWORD=")]
    check(vals == [st.PASSWORD.encode()], "boot %d: Kong's environment holds exactly the original password %r" % (boot, st.PASSWORD),
          "KONG_PG_PASSWORD values in /proc/%s/environ: %r" % (pid, vals))
    cmdline = ct.run(["cat", "/proc/%s/cmdline" % pid], text=False).stdout.split(b"\0")
    check(b"start" in cmdline, "boot %d: kong.service's MainPID is the stand-in's `kong start`" % boot, repr(cmdline))

    envfile = ct.run(["stat", "-f", "-c", "%T", "/run/kong-bootstrap/kong.env"]).stdout.strip()
    mode = ct.run(["stat", "-c", "%a %U", "/run/kong-bootstrap/kong.env"]).stdout.strip()
    check(envfile == "tmpfs" and mode == "600 root", "boot %d: the env file is on tmpfs, 0600 root" % boot,
          "%s, %s" % (envfile, mode))
    conf = ct.run(["cat", "/etc/kong/kong.conf"]).stdout
    check(st.PASSWORD not in conf and "pg_password" not in conf, "boot %d: kong.conf holds no password" % boot)

    code, body = None, ""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/status/ready" % status_port, timeout=5) as resp:
            code, body = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        code, body = e.code, e.read().decode()
    except OSError as e:
        body = str(e)
    check(code == 200, "boot %d: /status/ready answers 200 on the host's loopback" % boot, "%s %s" % (code, body))

    entries = standin_log(ct.root)
    migrating = invoked(entries, "migrations", "bootstrap") + invoked(entries, "migrations", "up") + \
        invoked(entries, "migrations", "finish")
    if first:
        check([e.get("did") for e in invoked(entries, "migrations", "bootstrap")] == ["migrated"],
              "boot %d: the first boot bootstrapped the database (kong migrations bootstrap)" % boot,
              json.dumps(entries, indent=1)[-3000:])
    else:
        check(not migrating and invoked(entries, "migrations", "list"),
              "boot %d: no migration on the second boot (only `kong migrations list`)" % boot,
              "invocations: %s\nmigrations record: %s" % ([e["argv"] for e in entries], mig))
    check(len(invoked(entries, "prepare")) == 1 and invoked(entries, "prepare")[0]["exit"] == 0,
          "boot %d: kong.service ran ExecStartPre=kong prepare once" % boot, json.dumps(entries)[-2000:])
    return mig


def agent_drains(root):
    """Whether the installed agent drains Kong on shutdown (drain_timeout)."""
    with open(os.path.join(root, "usr/bin/kong-bootstrap"), "rb") as f:
        return b"drain_timeout" in f.read()


def check_shutdown(ct, boot, drains):
    """The previous boot's shutdown (journalctl -b -1): kong-bootstrap
    stopped cleanly and, if it drains, Kong stopped only after the drain."""
    r = ct.run(["journalctl", "-b", "-1", "-o", "json", "--no-pager"])
    recs = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def t(x):
        return int(x["__REALTIME_TIMESTAMP"]) / 1e6
    finished = [x for x in recs if x.get("STAGE") == "boot" and x.get("MESSAGE_ID")]
    after = [x for x in recs if finished and t(x) >= t(finished[-1])]
    lines = "\n".join("%.3f %s: %s" % (t(x), x.get("SYSLOG_IDENTIFIER"), x.get("MESSAGE")) for x in after
                      if "kong" in (x.get("UNIT", "") + x.get("_SYSTEMD_UNIT", "") + x.get("MESSAGE", ""))
                      or x.get("UNIT") == "dbus.service")
    failed = [x for x in after if x.get("UNIT") == "kong-bootstrap.service" and x.get("UNIT_RESULT")]
    check(not failed, "boot %d shutdown: kong-bootstrap.service stopped cleanly" % boot, lines)
    if drains:
        drain = [x for x in after if x.get("STAGE") == "drain"]
        stopping = [x for x in after if x.get("UNIT") == "kong.service" and x.get("MESSAGE", "").startswith("Stopping")]
        ok = drain and stopping and t(stopping[0]) - t(drain[0]) >= DRAIN_TIMEOUT - 0.2
        check(ok, "boot %d shutdown: Kong kept running until kong-bootstrap's drain (%ds) was over" % (boot, DRAIN_TIMEOUT),
              "systemd began stopping kong.service %s after the drain began (journal above)"
              % ("%+.3fs" % (t(stopping[0]) - t(drain[0])) if drain and stopping else "(no drain or no stop record)"))


def check_failed_boot(ct, st):
    deadline = time.monotonic() + 120
    props = {}
    while time.monotonic() < deadline:
        props = ct.show("kong-bootstrap", "ActiveState", "SubState", "Result", "ExecMainStatus", "NRestarts",
                        "StatusText")
        if props.get("Result") != "success":
            break
        time.sleep(0.5)
    # and until journald has the agent's last record (status shows it)
    while time.monotonic() < deadline and not any(x.get("MESSAGE_ID") == BOOT_FAILED_ID for x in journal_records(ct)):
        time.sleep(0.2)
    time.sleep(0.5)
    check(props.get("Result") == "exit-code" and props.get("ExecMainStatus") == "12",
          "wrong secret_id: kong-bootstrap exited 12 (Result=exit-code)", repr(props))
    check(props.get("ActiveState") == "failed" or props.get("SubState") == "auto-restart",
          "wrong secret_id: kong-bootstrap failed (or waiting for its Restart=on-failure retry)", repr(props))
    status = ct.run(["systemctl", "status", "--no-pager", "-l", "kong-bootstrap"], check=False).stdout
    check("status=12" in status, "wrong secret_id: systemctl status shows status=12", status)
    check("no secret '%s'" % BAD_SECRET in status, "wrong secret_id: systemctl status names the cause", status)
    recs = journal_records(ct)
    failed = [x for x in recs if x.get("MESSAGE_ID") == BOOT_FAILED_ID]
    check(failed and failed[0].get("STAGE") == "secrets" and failed[0].get("EXIT_STATUS") == "12",
          "wrong secret_id: the journal has a 'boot failed' record, STAGE=secrets EXIT_STATUS=12",
          "\n".join("%s %s %s" % (x.get("STAGE"), x.get("MESSAGE_ID"), x.get("MESSAGE")) for x in recs))
    # failure_console's default, /dev/console: the unit's sandbox must let
    # the agent write it (a private /dev has none unless the unit binds it)
    line_rx = re.compile(r"kong-bootstrap: boot failed at secrets \(exit 12\) on i-[0-9a-f]+: .*no secret '%s'"
                         % re.escape(BAD_SECRET))
    console = ""
    while time.monotonic() < deadline + 10:
        with open(ct.console, "rb") as f:
            console = f.read().decode("utf-8", "replace")
        if line_rx.search(console):
            break
        time.sleep(0.2)
    unwritten = [x.get("MESSAGE", "") for x in recs if "cannot write the failure to" in x.get("MESSAGE", "")]
    check(line_rx.search(console) and not unwritten,
          "wrong secret_id: the failure's line reached the console (/dev/console from the unit's sandbox)",
          "agent's warnings: %s\nconsole (tail):\n%s" % (unwritten, console[-2000:]))
    k = ct.show("kong", "ActiveState", "UnitFileState", "ConditionResult", "ExecMainStartTimestampMonotonic")
    entries = standin_log(ct.root)
    check(k.get("ActiveState") == "inactive" and k.get("ExecMainStartTimestampMonotonic") == "0"
          and not invoked(entries, "prepare") and not invoked(entries, "start"),
          "wrong secret_id: kong.service not started (enabled: %s, condition: %s)"
          % (k.get("UnitFileState"), k.get("ConditionResult")),
          "%r\n%s" % (k, [e["argv"] for e in entries]))
    return status


def check_no_password_in_journal(ct, st):
    r = ct.run(["journalctl", "--no-pager", "-o", "export"], text=False)
    check(st.PASSWORD.encode() not in r.stdout and r.stdout,
          "no journal record (any unit, any boot) holds the password")


# ---------------------------------------------------------------- main --
def operator_view(good_status, good_journal, failed_status):
    text = ["# What an operator sees on a node booted by kong-bootstrap: real systemd 252",
            "# in a Debian 12 container (tests/system/test_system.py, regenerated with",
            "# UPDATE_OPERATOR_VIEW=1), the stand-in Kong, the test stack's IMDS, Secrets",
            "# Manager and PostgreSQL.",
            "",
            "$ systemctl status kong-bootstrap", good_status.rstrip(), "",
            "$ journalctl -u kong-bootstrap", good_journal.rstrip(), "",
            "# The same node booted with a secret_id that does not exist:",
            "$ systemctl status kong-bootstrap", failed_status.rstrip(), ""]
    with open(OPERATOR_VIEW, "w") as f:
        f.write("\n".join(text))
    log("wrote %s" % OPERATOR_VIEW)


def main():
    if os.geteuid() != 0:
        print("tests/system needs root (systemd-nspawn)", file=sys.stderr)
        return 1
    for tool in ("systemd-nspawn", "nsenter", "debootstrap"):
        if not shutil.which(tool):
            print("%s not found: run tests/setup-deps" % tool, file=sys.stderr)
            return 1
    t_start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="kong-bootstrap-system.", dir="/var/tmp")
    ct = None
    try:
        deb = build_deb(workdir)
        t_deb = time.monotonic()
        root = prepare_run_root(workdir)
        t_root = time.monotonic()
        log("root %s (%.0fs .deb, %.0fs root)" % (root, t_deb - t_start, t_root - t_deb))
        with Stack() as st, Container(root, workdir) as ct:
            log("test stack up: postgres 127.0.0.1:%d, moto %s, imds %s" % (st.pg_port, st.moto_url, st.imds_url))
            install(ct, root, deb)
            cat = ct.nspawn_run(["journalctl", "--list-catalog"]).stdout.decode("utf-8", "replace")
            if not check(all(i in cat for _, i in STAGES), "the package's install indexed its journal catalog (dpkg trigger)",
                         "journalctl --list-catalog lacks kong-bootstrap's ids; running journalctl --update-catalog"):
                ct.nspawn_run(["journalctl", "--update-catalog"])
            enabled = ct.nspawn_run(["systemctl", "is-enabled", "kong-bootstrap.service"]).stdout.decode().strip()
            check(enabled == "enabled", "the package enabled kong-bootstrap.service", enabled)
            status_port = free_port()
            write_config(root, st, status_port)

            log("boot 1 (fresh database)")
            ct.boot()
            log("booted in %.1fs" % ct.boot_seconds)
            mig1 = check_good_boot(ct, st, status_port, 1, first=True)
            log("migrations record, boot 1: %s" % mig1)
            good_status = ct.run(["systemctl", "status", "--no-pager", "-l", "kong-bootstrap"], check=False).stdout
            good_journal = ct.run(["journalctl", "-u", "kong-bootstrap", "--no-pager"]).stdout
            schema1 = st.db_query("SELECT executed FROM schema_meta")

            log("boot 2 (systemctl reboot)")
            ct.reboot(between=lambda: rotate_standin_log(root, "boot1"))
            log("booted in %.1fs" % ct.boot_seconds)
            mig2 = check_good_boot(ct, st, status_port, 2, first=False)
            check_shutdown(ct, 1, agent_drains(root))
            log("migrations record, boot 2: %s" % mig2)
            check(st.db_query("SELECT executed FROM schema_meta") == schema1, "boot 2: the schema is unchanged")

            log("poweroff")
            ct.poweroff()
            log("boot 3 (secret_id = %s, kong.service enabled)" % BAD_SECRET)
            rotate_standin_log(root, "boot2")
            write_config(root, st, status_port, secret_id=BAD_SECRET)
            ct.nspawn_run(["systemctl", "enable", "kong.service"])
            ct.boot()
            log("booted in %.1fs" % ct.boot_seconds)
            check_shutdown(ct, 2, agent_drains(root))
            failed_status = check_failed_boot(ct, st)
            check_no_password_in_journal(ct, st)
            log("poweroff")
            ct.poweroff()
            log("stopped")
            if os.environ.get("UPDATE_OPERATOR_VIEW") == "1":
                operator_view(good_status, good_journal, failed_status)
    except Exception:
        traceback.print_exc()
        failures.append("exception")
        if ct is not None and getattr(ct, "root", None) and os.path.isdir(os.path.join(ct.root, "var/log/journal")):
            r = subprocess.run(["journalctl", "-D", os.path.join(ct.root, "var/log/journal"), "--no-pager",
                                "-n", "80"], capture_output=True, text=True)
            print("--- container journal (tail) ---\n" + r.stdout, flush=True)
    finally:
        if ct is not None:
            ct.kill()
        if os.environ.get("KEEP_SYSTEM_ROOT") == "1":
            log("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    log("%.0fs in all" % (time.monotonic() - t_start))
    if failures:
        print("system: %d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("system: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
