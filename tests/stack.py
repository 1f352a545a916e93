#!/usr/bin/python3
"""Test stack for kong-bootstrap (Debian /usr/bin/python3: dbus, psycopg2).

    with Stack() as st:
        cfg = st.agent_config()
        code, out, err = st.run_agent(["run", "--oneshot"], config=cfg)

brings up, on loopback with free ports and in a temp dir:
  * PostgreSQL 15 (scram-sha-256 over TCP), role+db `kong` with PASSWORD
  * moto_server (pyenv python) seeded by tests/peers/aws_setup.py; every
    call after the seeding is SigV4- and IAM-policy-checked
  * the strict IMDSv2 emulator tests/peers/imds.py
  * a private dbus-daemon with dbusmock + tests/peers/systemd_template.py
  * a NOTIFY_SOCKET datagram listener
  * the stand-in kong (tests/peers/kong) behind a per-stack wrapper script
  * on demand, a stand-in journald (Journal) for agents run under its wrap()
and tears all of it down (process groups killed, temp dir removed unless
KEEP_STACK=1).  Any missing peer raises StackError: tests fail, never skip.

Run this file directly for a smoke test: /usr/bin/python3 tests/stack.py
"""
import contextlib
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(REPO, "tests", "peers")
PG_BIN = "/usr/lib/postgresql/15/bin"
DEBIAN_PY = "/usr/bin/python3"
SETUP_CALLS = 7   # must match tests/peers/aws_setup.py SETUP_CALLS
# the stand-in kong's knobs (Stack.set_kong), as reset() leaves them
KONG_KNOBS = {"delay": 0, "extra": "", "fail": "", "list_delay": 0, "print_password": ""}


class StackError(RuntimeError):
    pass


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A TCP port on 127.0.0.1 that nothing uses now, from below the kernel's
    ephemeral range: ports are often taken long before a peer binds them (a
    fleet's status ports at setUpClass), and a port bind(0) returned is one
    every outgoing connection in the meantime (libpq, curl, psycopg2, this
    test's own) may be given as its local port, so the later bind failed
    with EADDRINUSE now and then.  Random, so tests run side by side rarely
    pick the same one; each pick is checked by binding it."""
    import random
    lo, _ = _ephemeral_range()
    top = min(lo, 32768) - 1
    for _ in range(200):
        port = random.randint(max(1024, top - 12000), top)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise StackError("no free TCP port below the ephemeral range (%d)" % lo)


def wait_for(pred, timeout, what, proc=None, logfile=None, detail=None, error=StackError):
    """Poll pred() every 50 ms; return its first true value.  Raise error
    (a peer's StackError, or a test's failureException) after timeout s, or
    as soon as proc (anything with poll()) has exited; the message ends with
    the tail of logfile and detail() when given."""
    def fail(why):
        more = _tail(logfile) + ("\n" + detail() if detail else "")
        raise error("%s: %s%s" % (what, why, more))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        if proc is not None:
            code = proc.poll()
            if code is not None:
                fail("process exited with %s" % code)
        time.sleep(0.05)
    fail("not within %ss" % timeout)


def _tail(path, n=2000):
    if not path or not os.path.exists(path):
        return ""
    with open(path, "rb") as f:
        data = f.read()[-n:]
    return "\n--- %s (tail) ---\n%s" % (path, data.decode("utf-8", "replace"))


def tcp_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def find_moto_server():
    cands = [shutil.which("moto_server")]
    cands.append(os.path.expanduser("~/.pyenv/shims/moto_server"))
    for c in cands:
        if c and os.access(c, os.X_OK):
            return c
    raise StackError("moto_server not found on PATH or in ~/.pyenv/shims: install moto[server] "
                     "for the pyenv python3 (pip install 'moto[server]>=5')")


def find_boto_python():
    seen = []
    for d in os.environ.get("PATH", "").split(os.pathsep) + [os.path.expanduser("~/.pyenv/shims")]:
        c = os.path.join(d, "python3")
        if not d or c in seen or not os.access(c, os.X_OK):
            continue
        seen.append(c)
        r = subprocess.run([c, "-c", "import boto3, botocore"], capture_output=True)
        if r.returncode == 0:
            return c
    raise StackError("no python3 that can import boto3 found on PATH or in ~/.pyenv/shims "
                     "(tried: %s)" % (", ".join(seen) or "none"))


def kill_group(proc, timeout=5):
    """SIGTERM the process group led by proc, then SIGKILL."""
    if proc is None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if pgid is not None and proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(2)
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f is not None:
            with contextlib.suppress(Exception):
                f.close()


def child_process_groups(pid):
    """Process groups of pid's direct children."""
    groups = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            groups.add(int(fields[2]))
    return groups


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def parse_conf(path):
    """kong.conf style reader for tests: key = value, '#' comments,
    '\\#' literal (same as the stand-in kong)."""
    import re
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if not s or s[0] in "#;" or "=" not in s:
                continue
            k, v = s.split("=", 1)
            v = re.sub(r"\s*(?<!\\)#.*$", "", v).replace("\\#", "#").strip()
            out[k.strip()] = v
    return out


class Stack:
    PASSWORD = "k0ng#pa;ss\"w'o$rd\\ x"
    REGION = "us-east-1"
    SECRET_ID = "prod/kong/db"
    ROLE = "kong-node"
    VPC_CIDRS = ["10.0.0.0/16", "10.1.0.0/16"]
    INSTANCE_ID = "i-0123456789abcdef0"
    MAC = "0e:1a:2b:3c:4d:5e"

    def __init__(self, tmpdir=None, secret=None, secret_name=None, fleet=0):
        self._tmp_arg = tmpdir
        self._secret_override = secret
        self.secret_name = secret_name or self.SECRET_ID
        self.procs = {}
        self.tmp = None
        self.shm = None
        self._notify_sock = None
        self._notify_thread = None
        self._notify_msgs = []
        self._notify_lock = threading.Lock()
        self._closing = False
        self._bus = None
        self.kong_knobs = dict(KONG_KNOBS)
        self.fleet = fleet   # extra simulated nodes: see fleet_node()

    # ------------------------------------------------------------ context --
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if self._tmp_arg:
            os.makedirs(self._tmp_arg, exist_ok=True)
            self.tmp = os.path.abspath(self._tmp_arg)
        else:
            self.tmp = tempfile.mkdtemp(prefix="kong-bootstrap-stack.")
        os.chmod(self.tmp, 0o755)   # the postgres user must traverse it
        # The agent refuses to put the env file (the password) anywhere but
        # tmpfs, as /run is on an instance: <tmp>/run lives in /dev/shm.
        self.shm = tempfile.mkdtemp(prefix="kong-bootstrap-run.", dir="/dev/shm")
        os.symlink(self.shm, os.path.join(self.tmp, "run"))
        for d in ("log", "etc/kong", "run/kong-bootstrap", "bin", "imds", "kong-prefix"):
            os.makedirs(os.path.join(self.tmp, d), exist_ok=True)
        os.chmod(os.path.join(self.tmp, "run/kong-bootstrap"), 0o700)
        self.kong_log = os.path.join(self.tmp, "log", "kong-invocations.jsonl")
        self.systemd_log = os.path.join(self.tmp, "log", "systemd-calls.jsonl")
        self.imds_log = os.path.join(self.tmp, "log", "imds-requests.jsonl")
        self.kong_conf = os.path.join(self.tmp, "etc", "kong", "kong.conf")
        self.kong_env_file = os.path.join(self.tmp, "run", "kong-bootstrap", "kong.env")
        # Where `run` records its state for `kong-bootstrap status`.
        self.status_file = os.path.join(self.tmp, "run", "kong-bootstrap", "status.json")
        # The serial console stand-in: a failed boot's one line goes here,
        # never to this machine's /dev/console (failure_console).
        self.console = os.path.join(self.tmp, "log", "console")
        open(self.console, "w").close()
        self.status_port = free_port()
        self._write_stale_default_conf()
        self._start_postgres()
        self._start_moto()
        self._start_imds()
        self._write_kong_wrapper()
        self._start_notify()
        self._start_dbus()

    def stop(self):
        self._closing = True
        # the mock kills kong on SIGTERM; kill it ourselves too (belt and braces)
        pids = set()
        for rec in read_jsonl(self.systemd_log) if self.tmp else []:
            if rec.get("pid"):
                pids.add(rec["pid"])
        for name in [n for n in self.procs if n.startswith("mute_relay")]:
            kill_group(self.procs.pop(name, None))
        for name in ("faultproxy", "dbusmock", "dbus", "imds", "imds6", "moto"):
            kill_group(self.procs.pop(name, None))
        kill_group(self.procs.pop("autoscaling", None))
        kill_group(self.procs.pop("cloudformation", None))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self._notify_sock is not None:
            with contextlib.suppress(OSError):
                self._notify_sock.close()
            self._notify_sock = None
        self._stop_postgres()
        if self.tmp and os.environ.get("KEEP_STACK") != "1" and not self._tmp_arg:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if getattr(self, "shm", None):
                shutil.rmtree(self.shm, ignore_errors=True)
        elif self.tmp:
            sys.stderr.write("stack: kept %s\n" % self.tmp)

    # ----------------------------------------------------------- postgres --
    def _as_postgres(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def _start_postgres(self):
        for b in ("initdb", "postgres"):
            if not os.access(os.path.join(PG_BIN, b), os.X_OK):
                raise StackError("PostgreSQL 15 server binaries missing (%s/%s): apt-get install postgresql-15"
                                 % (PG_BIN, b))
        self.pg_dir = os.path.join(self.tmp, "pg")
        self.pg_data = os.path.join(self.pg_dir, "data")
        self.pg_sock = os.path.join(self.pg_dir, "sock")
        self.pg_logfile = os.path.join(self.pg_dir, "postgres.log")
        os.makedirs(self.pg_sock, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.pg_dir, self.pg_sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(self.pg_dir, 0o755)
        self.pg_port = free_port()
        r = subprocess.run(self._as_postgres([
            os.path.join(PG_BIN, "initdb"), "-D", self.pg_data, "-U", "postgres",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8",
            "--locale=C", "--no-sync"]), capture_output=True, text=True)
        if r.returncode != 0:
            raise StackError("initdb failed:\n%s%s" % (r.stdout, r.stderr))
        with open(os.path.join(self.pg_data, "postgresql.conf"), "a") as f:
            f.write("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "log_statement = 'none'\nlog_min_error_statement = panic\n"
                    "password_encryption = 'scram-sha-256'\n" % (self.pg_port, self.pg_sock))
        # postgres runs as our (grand)child, not daemonized by pg_ctl, so that
        # it is reaped on teardown (PID 1 in some CI sandboxes does not reap)
        log = open(self.pg_logfile, "ab")
        if os.geteuid() == 0:
            os.chown(self.pg_logfile, pwd.getpwnam("postgres").pw_uid, -1)
        self.procs["postgres"] = subprocess.Popen(
            self._as_postgres([os.path.join(PG_BIN, "postgres"), "-D", self.pg_data]),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise StackError("psycopg2 missing for %s: apt-get install -y python3-psycopg2" % sys.executable)

        def pg_up():
            try:
                with self._pg_admin():
                    return True
            except Exception:
                return False
        wait_for(pg_up, 60, "postgres", self.procs["postgres"], self.pg_logfile)
        with self._pg_admin() as c, c.cursor() as cur:
            # password as a bound parameter (client-side literal quoting), never argv
            cur.execute("CREATE ROLE kong LOGIN PASSWORD %s", (self.PASSWORD,))
            cur.execute("CREATE DATABASE kong OWNER kong")

    @contextlib.contextmanager
    def _pg_admin(self, dbname="postgres"):
        import psycopg2
        c = psycopg2.connect(host=self.pg_sock, port=self.pg_port, user="postgres", dbname=dbname)
        c.autocommit = True
        try:
            yield c
        finally:
            c.close()

    def _stop_postgres(self):
        p = self.procs.pop("postgres", None)
        if p is None:
            return
        # SIGINT = fast shutdown, to the whole group (runuser + postmaster)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            pass
        kill_group(p, 2)

    def reset_database(self):
        """Drop and recreate database kong (owner kong)."""
        with self._pg_admin() as c, c.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS kong WITH (FORCE)")
            cur.execute("CREATE DATABASE kong OWNER kong")

    def set_db_password(self, password):
        with self._pg_admin() as c, c.cursor() as cur:
            cur.execute("ALTER ROLE kong PASSWORD %s", (password,))

    def db_query(self, sql, args=None, dbname="kong"):
        with self._pg_admin(dbname) as c, c.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None

    # --------------------------------------------------------------- moto --
    def default_secret(self, **overrides):
        d = {"engine": "postgres", "host": "127.0.0.1", "port": self.pg_port, "dbname": "kong",
             "username": "kong", "password": self.PASSWORD, "dbInstanceIdentifier": "kong-db"}
        d.update(overrides)
        return {k: v for k, v in d.items() if v is not None}

    def _aws(self, command, payload):
        r = subprocess.run([self.boto_python, os.path.join(PEERS, "aws_setup.py"),
                            "--endpoint", self.moto_url, "--region", self.REGION, command],
                           input=json.dumps(payload), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise StackError("aws_setup.py %s failed (%d):\n%s%s" % (command, r.returncode, r.stderr,
                                                                     _tail(self.moto_logfile)))
        return json.loads(r.stdout)

    def _start_moto(self):
        moto = find_moto_server()
        self.boto_python = find_boto_python()
        self.moto_port = free_port()
        self.moto_url = "http://127.0.0.1:%d" % self.moto_port
        self.moto_logfile = os.path.join(self.tmp, "log", "moto.log")
        env = dict(os.environ)
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_CALLS)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        log = open(self.moto_logfile, "ab")
        self.procs["moto"] = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(self.moto_port)],
                                              stdout=log, stderr=subprocess.STDOUT, env=env,
                                              start_new_session=True)
        log.close()
        # readiness by TCP connect only: any HTTP request would count as an
        # (unauthenticated) action and shift INITIAL_NO_AUTH_ACTION_COUNT
        wait_for(lambda: tcp_open(self.moto_port), 60, "moto_server", self.procs["moto"], self.moto_logfile)
        secret = self._secret_override
        if secret is None:
            secret = self.default_secret()
        if not isinstance(secret, str):
            secret = json.dumps(secret)
        res = self._aws("init", {"secret_name": self.secret_name, "secret_string": secret})
        self.role_credentials = res["role_credentials"]
        self.admin_credentials = res["admin"]
        self.secret_arn = res["secret_arn"]
        self.role_arn = res["role_arn"]

    def update_secret(self, secret=None, name=None, **fields):
        """PutSecretValue: a new AWSCURRENT version (dict -> JSON)."""
        if secret is None:
            secret = self.default_secret(**fields)
        if not isinstance(secret, str):
            secret = json.dumps(secret)
        self._secret_dirty = True
        return self._aws("put-secret-value", {"admin": self.admin_credentials,
                                              "secret_name": name or self.secret_name,
                                              "secret_string": secret})

    def put_secret(self, name, secret):
        """CreateSecret of another secret (for negative tests)."""
        if not isinstance(secret, str):
            secret = json.dumps(secret)
        return self._aws("create-secret", {"admin": self.admin_credentials,
                                           "secret_name": name, "secret_string": secret})

    def get_secret_with(self, credentials, name=None):
        """GetSecretValue signed with credentials; {"ok", "error_code", "http_status"}."""
        return self._aws("get-secret", {"credentials": credentials,
                                        "secret_name": name or self.secret_name})

    # ---------------------------------------------------------- faultproxy --
    def start_faultproxy(self, listeners=1):
        """Start tests/peers/faultproxy.py in front of moto (once per stack).
        Sets faultproxy_url (listener 0) and faultproxy_urls (one per
        listener); point the agent's secretsmanager_endpoint at one.
        Control it with set_faultproxy(rules), read faultproxy_requests()."""
        if "faultproxy" in self.procs:
            return self.faultproxy_url
        d = os.path.join(self.tmp, "faultproxy")
        os.makedirs(d, exist_ok=True)
        self.faultproxy_control = os.path.join(d, "control.json")
        self.faultproxy_log = os.path.join(self.tmp, "log", "faultproxy-requests.jsonl")
        self.set_faultproxy([])
        port_file = os.path.join(d, "ports")
        logf = os.path.join(self.tmp, "log", "faultproxy.log")
        log = open(logf, "ab")
        self.procs["faultproxy"] = subprocess.Popen(
            [DEBIAN_PY, os.path.join(PEERS, "faultproxy.py"), "--upstream", self.moto_url,
             "--control", self.faultproxy_control, "--log", self.faultproxy_log,
             "--listeners", str(listeners), "--port-file", port_file, "--parent-pid", str(os.getpid())],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        wait_for(lambda: os.path.exists(port_file), 20, "faultproxy", self.procs["faultproxy"], logf)
        with open(port_file) as f:
            ports = json.load(f)
        self.faultproxy_urls = ["http://127.0.0.1:%d" % p for p in ports]
        self.faultproxy_url = self.faultproxy_urls[0]
        return self.faultproxy_url

    def set_faultproxy(self, rules):
        """Replace the proxy's rules (see tests/peers/faultproxy.py); counters restart."""
        tmp = self.faultproxy_control + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"nonce": time.time(), "rules": list(rules)}, f, indent=1)
        os.rename(tmp, self.faultproxy_control)

    def faultproxy_requests(self):
        return read_jsonl(self.faultproxy_log)

    def clear_faultproxy(self):
        """No rules, empty request log."""
        self.set_faultproxy([])
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.faultproxy_log)

    # --------------------------------------------------------- mute relay --
    def start_mute_relay(self):
        """Start one more tests/peers/mute_relay.py in front of the stack's
        Postgres (opt-in: nothing else uses it).  Point an agent at it with
        pg_port = relay.port; relay.mute() cuts its connections silently,
        relay.heal() lets new ones through again, relay.stop() ends it."""
        self._mute_relays = getattr(self, "_mute_relays", 0) + 1
        name = "mute_relay-%d" % self._mute_relays
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        port_file = os.path.join(d, "ports")
        logf = os.path.join(self.tmp, "log", name + ".log")
        log = open(logf, "ab")
        proc = subprocess.Popen(
            [DEBIAN_PY, os.path.join(PEERS, "mute_relay.py"), "--upstream-port", str(self.pg_port),
             "--port-file", port_file, "--parent-pid", str(os.getpid())],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        wait_for(lambda: os.path.exists(port_file), 20, "mute relay", proc, logf)
        with open(port_file) as f:
            ports = json.load(f)
        return MuteRelay(self, name, ports["relay"], ports["control"])

    # -------------------------------------------------------- autoscaling --
    # tests/peers/autoscaling.py: the Auto Scaling Query API (lifecycle hooks),
    # SigV4-checked against the role credentials IMDS serves.  Started on
    # demand; point the agent's autoscaling_endpoint at autoscaling_url.
    ASG = "kong-asg"

    def _start_query_peer(self, name):
        """tests/peers/<name>.py (a query_api.py emulator) with its config
        at <tmp>/<name>/config.json and its call log at
        <tmp>/log/<name>-calls.jsonl; returns its URL."""
        d = os.path.join(self.tmp, name)
        port_file = os.path.join(d, "port")
        logf = os.path.join(self.tmp, "log", name + ".log")
        log = open(logf, "ab")
        self.procs[name] = subprocess.Popen(
            [self.boto_python, os.path.join(PEERS, name + ".py"), "--config", os.path.join(d, "config.json"),
             "--port-file", port_file, "--parent-pid", str(os.getpid())],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        wait_for(lambda: os.path.exists(port_file), 30, name + " emulator", self.procs[name], logf)
        with open(port_file) as f:
            return "http://127.0.0.1:%d" % int(f.read())

    def _write_peer_config(self, path, cfg):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)
        os.rename(tmp, path)

    def start_autoscaling(self):
        if "autoscaling" in self.procs:
            return self.autoscaling_url
        os.makedirs(os.path.join(self.tmp, "autoscaling"), exist_ok=True)
        self.autoscaling_config_path = os.path.join(self.tmp, "autoscaling", "config.json")
        self.autoscaling_log = os.path.join(self.tmp, "log", "autoscaling-calls.jsonl")
        self.set_autoscaling()
        self.autoscaling_url = self._start_query_peer("autoscaling")
        return self.autoscaling_url

    def set_autoscaling(self, active=(), credentials=None, faults=(), **extra):
        """Replace the emulator's config: active = [(group, hook, instance)];
        credentials default to the role's; a new nonce each time (completed
        actions are forgotten)."""
        cfg = {"region": self.REGION, "nonce": time.time(),
               "credentials": credentials if credentials is not None else [dict(self.role_credentials)],
               "active": [list(a) for a in active], "faults": list(faults), "call_log": self.autoscaling_log}
        cfg.update(extra)
        self._write_peer_config(self.autoscaling_config_path, cfg)

    def autoscaling_calls(self):
        return read_jsonl(self.autoscaling_log)

    def clear_autoscaling(self):
        """No active actions, no faults, empty call log."""
        self.set_autoscaling()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.autoscaling_log)

    # ----------------------------------------------------- cloudformation --
    # tests/peers/cloudformation.py: SignalResource, SigV4-checked against the
    # role credentials.  Started on demand; point the agent's
    # cloudformation_endpoint at cloudformation_url.
    CFN_STACK = "kong-fleet"
    CFN_STACK_ID = ("arn:aws:cloudformation:us-east-1:123456789012:stack/kong-fleet/"
                    "5b2f0c40-8d2a-11ef-9d5e-0a1b2c3d4e5f")
    CFN_RESOURCE = "KongGroup"

    def start_cloudformation(self):
        if "cloudformation" in self.procs:
            return self.cloudformation_url
        os.makedirs(os.path.join(self.tmp, "cloudformation"), exist_ok=True)
        self.cloudformation_config_path = os.path.join(self.tmp, "cloudformation", "config.json")
        self.cloudformation_log = os.path.join(self.tmp, "log", "cloudformation-calls.jsonl")
        self.set_cloudformation()
        self.cloudformation_url = self._start_query_peer("cloudformation")
        return self.cloudformation_url

    def set_cloudformation(self, stacks=None, credentials=None, **extra):
        """Replace the emulator's config; by default one stack in
        CREATE_IN_PROGRESS whose CFN_RESOURCE waits for one signal.  A new
        nonce each time (signals received are forgotten)."""
        if stacks is None:
            stacks = [{"name": self.CFN_STACK, "id": self.CFN_STACK_ID, "status": "CREATE_IN_PROGRESS",
                       "resources": {self.CFN_RESOURCE: {"count": 1}}}]
        cfg = {"region": self.REGION, "nonce": time.time(), "stacks": stacks,
               "credentials": credentials if credentials is not None else [dict(self.role_credentials)],
               "call_log": self.cloudformation_log}
        cfg.update(extra)
        self._write_peer_config(self.cloudformation_config_path, cfg)

    def cloudformation_calls(self):
        return read_jsonl(self.cloudformation_log)

    def clear_cloudformation(self):
        self.set_cloudformation()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.cloudformation_log)

    def set_lifecycle_state(self, state):
        """IMDS meta-data/autoscaling/target-lifecycle-state (None -> 404)."""
        self.set_imds(lifecycle_state=state)

    def set_spot_notice(self, action="terminate", when=None):
        """IMDS meta-data/spot/instance-action (action None -> 404)."""
        if action is None:
            self.set_imds(spot_instance_action=None)
            return
        when = when or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        self.set_imds(spot_instance_action=json.dumps({"action": action, "time": when}))

    # --------------------------------------------------------------- IMDS --
    def imds_default_config(self):
        return {
            "region": self.REGION,
            "availability_zone": self.REGION + "a",
            "instance_id": self.INSTANCE_ID,
            "mac": self.MAC,
            "vpc_cidrs": list(self.VPC_CIDRS),
            "role": self.ROLE,
            "credentials": dict(self.role_credentials),
            "tags": None,
            "user_data": None,
            "disabled": False,
            "token_ttl_override": None,
            "faults": [],
            "request_log": self.imds_log,
        }

    def set_imds(self, **updates):
        """Update the emulator's config (takes effect on the next request)."""
        cfg = self.imds_config
        cfg.update(updates)
        tmp = self.imds_config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)
        os.rename(tmp, self.imds_config_path)

    def reset_imds(self):
        self.imds_config = self.imds_default_config()
        self.set_imds()

    def _start_imds(self):
        self.imds_config_path = os.path.join(self.tmp, "imds", "config.json")
        self.reset_imds()
        port_file = os.path.join(self.tmp, "imds", "port")
        logf = os.path.join(self.tmp, "log", "imds.log")
        log = open(logf, "ab")
        self.procs["imds"] = subprocess.Popen(
            [DEBIAN_PY, os.path.join(PEERS, "imds.py"), "--config", self.imds_config_path,
             "--port-file", port_file], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(lambda: os.path.exists(port_file), 20, "imds emulator", self.procs["imds"], logf)
        with open(port_file) as f:
            self.imds_port = int(f.read())
        self.imds_url = "http://127.0.0.1:%d" % self.imds_port

    def start_imds_v6(self):
        """A second IMDS emulator on [::1], same config and request log, for
        the IPv6 endpoint (http://[fd00:ec2::254] on Nitro). Returns its URL."""
        if "imds6" not in self.procs:
            port_file = os.path.join(self.tmp, "imds", "port6")
            logf = os.path.join(self.tmp, "log", "imds6.log")
            log = open(logf, "ab")
            self.procs["imds6"] = subprocess.Popen(
                [DEBIAN_PY, os.path.join(PEERS, "imds.py"), "--config", self.imds_config_path, "--host", "::1",
                 "--port-file", port_file], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            wait_for(lambda: os.path.exists(port_file), 20, "IPv6 imds emulator", self.procs["imds6"], logf)
            with open(port_file) as f:
                self.imds6_url = "http://[::1]:%d" % int(f.read())
        return self.imds6_url

    # -------------------------------------------------------- kong wrapper --
    # Only settings a direct `kong` call in a test gives by KONG_PG_* (so
    # those keep working without -c); the agent gives only the password.
    STALE_DEFAULT_CONF = ("# what an AMI or a previous boot left in /etc/kong/kong.conf\n"
                          "pg_port = 1\npg_timeout = 1\npg_password = stale\n")

    def _write_stale_default_conf(self):
        """The stand-in kong's "/etc/kong/kong.conf" (KONG_STANDIN_DEFAULT_CONF):
        stale settings no boot renders, so that a kong invocation without
        -c fails (tests cannot write /etc). A test may rewrite it."""
        self.kong_default_conf = os.path.join(self.tmp, "etc", "kong-default", "kong.conf")
        os.makedirs(os.path.dirname(self.kong_default_conf), exist_ok=True)
        with open(self.kong_default_conf, "w") as f:
            f.write(self.STALE_DEFAULT_CONF)

    def _write_kong_wrapper(self):
        self.kong_bin = os.path.join(self.tmp, "bin", "kong")
        k = self.kong_knobs
        lines = ["#!/bin/sh",
                 "# per-stack wrapper: control knobs for the stand-in kong",
                 "export KONG_STANDIN_LOG=%s" % shlex.quote(self.kong_log),
                 "export KONG_STANDIN_DELAY=%s" % shlex.quote(str(k["delay"])),
                 "export KONG_STANDIN_EXTRA=%s" % shlex.quote(k["extra"]),
                 "export KONG_STANDIN_FAIL=%s" % shlex.quote(k["fail"]),
                 "export KONG_STANDIN_LIST_DELAY=%s" % shlex.quote(str(k["list_delay"])),
                 "export KONG_STANDIN_PRINT_PASSWORD=%s" % shlex.quote(k["print_password"]),
                 # on tmpfs, as contrib/kong-prefix-tmpfs.conf advises: Kong
                 # writes the password to <prefix>/.kong_env
                 "export KONG_STANDIN_PREFIX=%s" % shlex.quote(os.path.join(self.tmp, "run", "kong-prefix")),
                 "export KONG_STANDIN_DEFAULT_CONF=%s" % shlex.quote(self.kong_default_conf),
                 "exec %s %s \"$@\"" % (DEBIAN_PY, shlex.quote(os.path.join(PEERS, "kong"))),
                 ""]
        tmp = self.kong_bin + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines))
        os.chmod(tmp, 0o755)
        os.rename(tmp, self.kong_bin)

    def set_kong(self, delay=None, extra=None, fail=None, list_delay=None, print_password=None):
        """Knobs: delay (s), extra migrations ("002_x,003_y:teardown"),
        fail (comma list of subcommands to fail with exit 1), list_delay
        (s `list` takes, like real Kong's start-up), print_password ("",
        "line" or "split": see tests/peers/kong)."""
        if list_delay is not None:
            self.kong_knobs["list_delay"] = list_delay
        if print_password is not None:
            self.kong_knobs["print_password"] = print_password
        if delay is not None:
            self.kong_knobs["delay"] = delay
        if extra is not None:
            self.kong_knobs["extra"] = extra if isinstance(extra, str) else ",".join(extra)
        if fail is not None:
            self.kong_knobs["fail"] = fail if isinstance(fail, str) else ",".join(fail)
        self._write_kong_wrapper()

    def kong(self, *args, env=None):
        """Run the stand-in kong directly (through the wrapper)."""
        e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        e.update(env or {})
        r = subprocess.run([self.kong_bin] + list(args), env=e, capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr

    # ------------------------------------------------------------- notify --
    def _start_notify(self):
        self.notify_socket = os.path.join(self.tmp, "notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(self.notify_socket)
        os.chmod(self.notify_socket, 0o777)
        self._notify_sock = s

        def loop():
            while True:
                try:
                    data = s.recv(65536)
                except OSError:
                    return
                msg = {}
                lines = data.decode("utf-8", "replace").split("\n")
                for line in lines:
                    if "=" in line:
                        k, v = line.split("=", 1)
                        msg[k] = v
                with self._notify_lock:
                    self._notify_msgs.append({"time": time.time(), "lines": [l for l in lines if l],
                                              "fields": msg})
        self._notify_thread = threading.Thread(target=loop, daemon=True)
        self._notify_thread.start()

    def notify_messages(self):
        """List of datagrams, each a list of "KEY=VALUE" lines."""
        with self._notify_lock:
            return [list(m["lines"]) for m in self._notify_msgs]

    def notify_records(self):
        """List of {"time", "lines", "fields"} per datagram."""
        with self._notify_lock:
            return [dict(m) for m in self._notify_msgs]

    def notify_fields(self):
        with self._notify_lock:
            return [dict(m["fields"]) for m in self._notify_msgs]

    # --------------------------------------------------------------- dbus --
    def _start_dbus(self):
        if not shutil.which("dbus-daemon"):
            raise StackError("dbus-daemon not found: apt-get install dbus-daemon")
        try:
            import dbus  # noqa: F401
            import dbusmock  # noqa: F401
        except ImportError as e:
            raise StackError("%s lacks dbus/dbusmock (%s): apt-get install python3-dbusmock" % (sys.executable, e))
        bus_path = os.path.join(self.tmp, "bus")
        self.dbus_address = "unix:path=%s" % bus_path
        logf = os.path.join(self.tmp, "log", "dbus-daemon.log")
        err = open(logf, "ab")
        p = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                              "--address=" + self.dbus_address, "--print-address"],
                             stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        err.close()
        self.procs["dbus"] = p
        line = p.stdout.readline()
        if not line:
            raise StackError("dbus-daemon did not start" + _tail(logf))
        self.unit_log = os.path.join(self.tmp, "log", "kong.service.log")
        params = {
            "call_log": self.systemd_log,
            "units": {
                "kong.service": {
                    "exec": [self.kong_bin, "start", "-c", self.kong_conf],
                    "environment_file": self.kong_env_file,
                    "environment": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                    "KONG_NGINX_DAEMON": "off"},
                    "output": self.unit_log,
                }
            },
        }
        params["units"].update(self._fleet_units())
        env = dict(os.environ)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.dbus_address
        env["DBUS_SESSION_BUS_ADDRESS"] = self.dbus_address
        logf = os.path.join(self.tmp, "log", "dbusmock.log")
        log = open(logf, "ab")
        self.procs["dbusmock"] = subprocess.Popen(
            [DEBIAN_PY, "-m", "dbusmock", "--system", "--template",
             os.path.join(PEERS, "systemd_template.py"), "-p", json.dumps(params)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        wait_for(self._systemd_ready, 30, "dbusmock systemd", self.procs["dbusmock"], logf)

    def bus(self):
        import dbus
        if self._bus is None:
            self._bus = dbus.bus.BusConnection(self.dbus_address)
        return self._bus

    def _systemd_ready(self):
        try:
            return bool(self.bus().name_has_owner("org.freedesktop.systemd1"))
        except Exception:
            return False

    def systemd_mock(self):
        import dbus
        import dbusmock
        obj = self.bus().get_object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
        return dbus.Interface(obj, dbusmock.MOCK_IFACE)

    def systemd_manager(self):
        import dbus
        obj = self.bus().get_object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
        return dbus.Interface(obj, "org.freedesktop.systemd1.Manager")

    def unit_properties(self, name="kong.service"):
        import dbus
        path = self.systemd_manager().GetUnit(name)
        obj = self.bus().get_object("org.freedesktop.systemd1", path)
        props = dbus.Interface(obj, "org.freedesktop.DBus.Properties")
        out = {}
        for iface in ("org.freedesktop.systemd1.Unit", "org.freedesktop.systemd1.Service"):
            out.update({str(k): (str(v) if isinstance(v, dbus.String) else v)
                        for k, v in props.GetAll(iface).items()})
        return out

    def set_unit_failure(self, result, name="kong.service"):
        self.systemd_mock().SetUnitFailure(name, result)

    def reset_unit(self, name="kong.service"):
        self.systemd_mock().ResetUnit(name)

    # --------------------------------------------------------------- logs --
    def kong_log_entries(self):
        return read_jsonl(self.kong_log)

    def systemd_calls(self):
        return [r for r in read_jsonl(self.systemd_log) if "method" in r]

    def imds_requests(self):
        return read_jsonl(self.imds_log)

    def clear_logs(self):
        for p in (self.kong_log, self.systemd_log, self.imds_log):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        open(self.console, "w").close()     # emptied, never removed: the agent does not create it
        with self._notify_lock:
            self._notify_msgs.clear()

    def reset(self):
        """Between tests: stop kong.service, clear failures and knobs, fresh
        database, default IMDS config and secret, remove rendered files,
        clear logs."""
        self.reset_unit()
        self._write_stale_default_conf()
        self.kong_knobs = dict(KONG_KNOBS)
        self._write_kong_wrapper()
        self.reset_database()
        self.set_db_password(self.PASSWORD)
        self.reset_imds()
        if getattr(self, "_secret_dirty", False):
            self.update_secret(self._secret_override)   # back to the stack's default
            self._secret_dirty = False
        for p in (self.kong_conf, self.kong_env_file, self.status_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
        self.clear_logs()

    # -------------------------------------------------------------- agent --
    def agent_config(self, path=None, **overrides):
        """Write <tmp>/etc/kong-bootstrap.conf; override=None drops a key."""
        cfg = {
            "secret_id": self.secret_name,
            "imds_endpoint": self.imds_url,
            "secretsmanager_endpoint": self.moto_url,
            "pg_sslmode": "disable",
            "pg_wait_timeout": "10",
            "imds_timeout": "5",
            "kong_bin": self.kong_bin,
            "kong_conf": self.kong_conf,
            "kong_env_file": self.kong_env_file,
            "kong_unit": "kong.service",
            "failure_console": self.console,
            "status_listen": "127.0.0.1:%d" % self.status_port,
            "ready_timeout": "20",
        }
        for k, v in overrides.items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = str(v)
        path = path or os.path.join(self.tmp, "etc", "kong-bootstrap.conf")
        with open(path, "w") as f:
            f.write("# kong-bootstrap test config (tests/stack.py)\n")
            for k, v in cfg.items():
                f.write("%s = %s\n" % (k, v))
        return path

    @property
    def agent_bin(self):
        return os.environ.get("KONG_BOOTSTRAP_BIN") or os.path.join(REPO, "build", "agent", "kong-bootstrap")

    def agent_env(self, env=None):
        e = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
             "DBUS_SYSTEM_BUS_ADDRESS": self.dbus_address,
             "NOTIFY_SOCKET": self.notify_socket,
             # Never the host's /run: every agent (fleet nodes too) records
             # its state for `status` in the stack's run directory. From the
             # environment, not agent_config(), so the config files' line
             # numbers (golden files) stay.
             "KONG_BOOTSTRAP_STATUS_FILE": self.status_file}
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def agent_argv(self, args, config=None, valgrind=False, wrap=()):
        """wrap: a command line to run the agent under (strace …)."""
        if not os.access(self.agent_bin, os.X_OK):
            raise StackError("agent binary not found: %s (build it, or set KONG_BOOTSTRAP_BIN)" % self.agent_bin)
        if wrap and not shutil.which(wrap[0]):
            raise StackError("%s not installed: tests/setup-deps installs it" % wrap[0])
        config = config or self.agent_config()
        argv = list(wrap) + [self.agent_bin, "-c", config] + list(args)
        if valgrind:
            if not shutil.which("valgrind"):
                raise StackError("valgrind not installed: apt-get install valgrind")
            argv = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
                    "--error-exitcode=99", "--trace-children=no"] + argv
        return argv

    def run_agent(self, args, config=None, env=None, timeout=120, valgrind=False, stderr_cb=None, wrap=()):
        """Run kong-bootstrap -c CONFIG ARGS...; returns (exit, stdout, stderr).
        stderr_cb(line) is called for each stderr line as it arrives; wrap:
        see agent_argv."""
        argv = self.agent_argv(args, config, valgrind, wrap)
        if valgrind:
            timeout = max(timeout, 600)
        p = subprocess.Popen(argv, env=self.agent_env(env), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        out_chunks, err_lines = [], []

        def rd_out():
            out_chunks.append(p.stdout.read())

        def rd_err():
            for line in iter(p.stderr.readline, b""):
                err_lines.append(line)
                if stderr_cb:
                    stderr_cb(line.decode("utf-8", "replace"))
        t1 = threading.Thread(target=rd_out, daemon=True)
        t2 = threading.Thread(target=rd_err, daemon=True)
        t1.start()
        t2.start()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(p, 2)
            t1.join(5)
            t2.join(5)
            raise StackError("agent timed out after %ss; stderr:\n%s" % (
                timeout, b"".join(err_lines).decode("utf-8", "replace")))
        t1.join(10)
        t2.join(10)
        p.stdout.close()
        p.stderr.close()
        # the agent must not leave children behind in its process group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        return (p.returncode, b"".join(out_chunks).decode("utf-8", "replace"),
                b"".join(err_lines).decode("utf-8", "replace"))

    # -------------------------------------------------------------- fleet --
    # Stack(fleet=N): N simulated instances of an Auto Scaling group sharing
    # the stack's database, each with its own unit kong-<i>.service (whose
    # exec is the node's own kong wrapper), kong.conf, env file and status
    # port, so that N agents can boot at once and each starts its own Kong.
    def _fleet_units(self):
        self._fleet_ports = [free_port() for _ in range(self.fleet)]
        units = {}
        for i in range(self.fleet):
            n = self.fleet_node(i)
            os.makedirs(n["dir"], exist_ok=True)
            os.makedirs(os.path.dirname(os.path.dirname(n["kong_env_file"])), mode=0o700, exist_ok=True)
            units[n["unit"]] = {"exec": [n["kong_bin"], "start", "-c", n["kong_conf"]],
                                "environment_file": n["kong_env_file"],
                                "environment": {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                "KONG_NGINX_DAEMON": "off"},
                                "output": n["unit_log"]}
        return units

    def fleet_node(self, i):
        """Paths and names of fleet node i (0 <= i < fleet)."""
        d = os.path.join(self.tmp, "fleet", str(i))
        return {"index": i, "dir": d, "tag": "node-%d" % i, "unit": "kong-%d.service" % i,
                "kong_bin": os.path.join(d, "kong"), "kong_conf": os.path.join(d, "kong.conf"),
                "kong_env_file": os.path.join(self.tmp, "run", "fleet", str(i), "kong.env"),   # tmpfs
                "unit_log": os.path.join(d, "kong.service.log"),
                "config": os.path.join(d, "kong-bootstrap.conf"),
                "status_port": self._fleet_ports[i]}

    def write_fleet_node(self, i, kong_env=None, **overrides):
        """Write node i's kong wrapper (KONG_STANDIN_TAG=node-<i> plus
        kong_env, then the stack's wrapper) and agent config (agent_config
        with the node's paths, unit and status port, then overrides).
        Returns fleet_node(i)."""
        n = self.fleet_node(i)
        os.makedirs(n["dir"], exist_ok=True)
        env = {"KONG_STANDIN_TAG": n["tag"]}
        env.update(kong_env or {})
        lines = ["#!/bin/sh"] + ["export %s=%s" % (k, shlex.quote(str(v))) for k, v in env.items()]
        lines += ["exec %s \"$@\"" % shlex.quote(self.kong_bin), ""]
        with open(n["kong_bin"] + ".tmp", "w") as f:
            f.write("\n".join(lines))
        os.chmod(n["kong_bin"] + ".tmp", 0o755)
        os.rename(n["kong_bin"] + ".tmp", n["kong_bin"])
        cfg = {"kong_bin": n["kong_bin"], "kong_conf": n["kong_conf"], "kong_env_file": n["kong_env_file"],
               "kong_unit": n["unit"], "status_listen": "127.0.0.1:%d" % n["status_port"]}
        cfg.update(overrides)
        self.agent_config(path=n["config"], **cfg)
        return n

    def reset_fleet(self):
        """Stop every fleet unit, remove the nodes' rendered files and the
        stand-in's events log."""
        for i in range(self.fleet):
            n = self.fleet_node(i)
            self.reset_unit(n["unit"])
            for p in (n["kong_conf"], n["kong_env_file"], n["unit_log"]):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.kong_events_path)

    @property
    def kong_events_path(self):
        """The stand-in's progress log (begin/migrated/terminated events)."""
        return self.kong_log[:-len(".jsonl")] + "-events.jsonl"

    def kong_events(self):
        return read_jsonl(self.kong_events_path)

    @property
    def kong_status_path(self):
        """The stand-in `kong start`'s own log (ready-200/drain/signal)."""
        return self.kong_log[:-len(".jsonl")] + "-status.jsonl"

    def kong_status_events(self):
        return read_jsonl(self.kong_status_path)

    def start_agent(self, args=("run", "--oneshot"), config=None, env=None, name=None, wrap=()):
        """Start kong-bootstrap in the background in its own session
        (process group = its pid, like a systemd unit's cgroup: kill it with
        AgentProcess.killpg).  Output goes to <tmp>/log/agent-<name>.{out,err}.
        wrap: see agent_argv (Journal.wrap() execs, so the pid stays the agent's)."""
        argv = self.agent_argv(list(args), config, wrap=wrap)
        name = name or "%d" % len(getattr(self, "_agents", []))
        base = os.path.join(self.tmp, "log", "agent-%s" % name)
        with open(base + ".out", "wb") as out, open(base + ".err", "wb") as err:
            started = time.time()
            p = subprocess.Popen(argv, env=self.agent_env(env), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, start_new_session=True)
        a = AgentProcess(p, name, base, started)
        self._agents = getattr(self, "_agents", []) + [a]
        return a

    # ------------------------------------------------------ postgres ctl --
    def stop_postgres(self):
        """Fast shutdown of the stack's Postgres (data kept; start_postgres)."""
        self._stop_postgres()

    def start_postgres(self, timeout=60):
        """Start the stack's Postgres again: same data directory and port."""
        if "postgres" in self.procs:
            return
        log = open(self.pg_logfile, "ab")
        self.procs["postgres"] = subprocess.Popen(
            self._as_postgres([os.path.join(PG_BIN, "postgres"), "-D", self.pg_data]),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

        def pg_up():
            try:
                with self._pg_admin():
                    return True
            except Exception:
                return False
        wait_for(pg_up, timeout, "postgres (restart)", self.procs["postgres"], self.pg_logfile)

    def pg_connect(self, dbname="kong"):
        """A superuser connection (autocommit) over the Unix socket; the
        caller closes it.  Its application_name is 'stack'."""
        import psycopg2
        c = psycopg2.connect(host=self.pg_sock, port=self.pg_port, user="postgres", dbname=dbname,
                             application_name="stack")
        c.autocommit = True
        return c

    def pg_activity(self, conn=None):
        """pg_stat_activity client backends except the caller's own, as dicts."""
        sql = ("SELECT pid, application_name, client_addr::text, client_port, state, wait_event_type, "
               "wait_event, query_start, backend_start FROM pg_stat_activity "
               "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
        cols = ["pid", "application_name", "client_addr", "client_port", "state", "wait_event_type",
                "wait_event", "query_start", "backend_start"]
        if conn is None:
            with self._pg_admin() as c, c.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
        else:
            with conn.cursor() as cur:
                cur.execute(sql)
                rows = cur.fetchall()
        return [dict(zip(cols, r)) for r in rows]

    # ------------------------------------------------------------- checks --
    def kong_ready(self, timeout=2):
        import urllib.request
        import urllib.error
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/status/ready" % self.status_port,
                                        timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return None, str(e)


class MuteRelay:
    """Handle on a tests/peers/mute_relay.py (Stack.start_mute_relay)."""

    def __init__(self, stack, name, port, control_port):
        self.stack, self.name, self.port, self.control_port = stack, name, port, control_port

    def _command(self, cmd):
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=10) as c:
            c.sendall((cmd + "\n").encode())
            f = c.makefile("r")
            reply = f.readline().strip()
        if not reply.startswith("ok"):
            raise StackError("mute relay: %s -> %s" % (cmd, reply))
        return reply

    def mute(self):
        """Cut every relayed connection silently; returns how many."""
        return int(self._command("mute").split()[1])

    def heal(self):
        self._command("heal")

    def relayed(self):
        return int(self._command("count").split()[1])

    def stop(self):
        kill_group(self.stack.procs.pop(self.name, None))


class Journal:
    """A stand-in journald for the agents started under wrap(): what
    sd_journal_sendv() sends, as dicts of fields.

    libsystemd has no setting for the journal's socket (it always sends to
    /run/systemd/journal/socket), so wrap() runs the agent in a mount
    namespace of its own (unshare; root) where /run/systemd is this
    journal's directory, and sets JOURNAL_STREAM to the agent's stderr, as
    systemd does for a service whose output goes to the journal: agent/log.c
    then writes structured records (MESSAGE_ID, PRIORITY, STAGE, ...) here
    and nothing on stderr.  The host's /run is not touched."""

    def __init__(self, directory):
        os.makedirs(os.path.join(directory, "journal"), exist_ok=True)
        self.dir = directory
        self.path = os.path.join(directory, "journal", "socket")
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise StackError("a stand-in journal needs a mount namespace (unshare --mount, as root): %s"
                             % r.stderr.strip())
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.2)
        self._records = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def wrap(self):
        """The argv prefix for Stack.start_agent/run_agent (it execs: the
        agent keeps the pid)."""
        script = ("set -e; [ -d /run/systemd ] || { mount -t tmpfs tmpfs /run; mkdir /run/systemd; }; "
                  "mount --bind %s /run/systemd; "
                  "JOURNAL_STREAM=$(stat -L -c %%d:%%i /proc/self/fd/2); export JOURNAL_STREAM; "
                  'exec "$@"' % shlex.quote(self.dir))
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "journal-wrap"]

    @staticmethod
    def parse(data):
        """One datagram of the native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL):
        KEY=VALUE lines, or KEY, a little-endian 64-bit size and that many
        bytes for a value with a newline."""
        rec, i = {}, 0
        while i < len(data):
            nl = data.index(b"\n", i)
            line = data[i:nl]
            if b"=" in line:
                k, v = line.split(b"=", 1)
                i = nl + 1
            else:
                k = line
                (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
                v = data[nl + 9:nl + 9 + size]
                i = nl + 9 + size + 1
            rec[k.decode()] = v.decode("utf-8", "replace")
        return rec

    def _loop(self):
        while not self._closed.is_set():
            try:
                data, anc, _, _ = self._sock.recvmsg(1 << 20, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                return
            for level, kind, cdata in anc:
                # a record too big for a datagram comes as a sealed memfd
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for (fd,) in struct.iter_unpack("i", cdata[:len(cdata) - len(cdata) % 4]):
                        with os.fdopen(fd, "rb") as f:
                            data += f.read()
            try:
                rec = self.parse(data)
            except (ValueError, struct.error) as e:
                rec = {"_UNPARSED": "%s: %r" % (e, data[:200])}
            rec["_TIME"] = time.time()
            with self._lock:
                self._records.append(rec)

    def records(self, **match):
        """Records so far whose fields equal every match (MESSAGE_ID=...)."""
        with self._lock:
            return [dict(r) for r in self._records if all(r.get(k) == v for k, v in match.items())]

    def text(self):
        """Every record on one line (PRIORITY STAGE MESSAGE_ID: MESSAGE), for failure messages."""
        return "\n".join("%s %s %s: %s" % (r.get("PRIORITY"), r.get("STAGE"), r.get("MESSAGE_ID", "-"),
                                            r.get("MESSAGE", r.get("_UNPARSED")))
                         for r in self.records())

    def close(self):
        self._closed.set()
        self._thread.join(3)
        self._sock.close()


class AgentProcess:
    """A kong-bootstrap started by Stack.start_agent."""

    def __init__(self, proc, name, base, started):
        self.proc, self.name, self.base, self.started = proc, name, base, started
        self.pid = proc.pid
        self.ended = None

    def poll(self):
        code = self.proc.poll()
        if code is not None and self.ended is None:
            self.ended = time.time()
        return code

    def wait(self, timeout=None):
        """Exit status (raises subprocess.TimeoutExpired)."""
        code = self.proc.wait(timeout)
        if self.ended is None:
            self.ended = time.time()
        return code

    def killpg(self, sig=signal.SIGKILL):
        """Signal the agent's process group and the groups of its children
        (the agent runs `kong` in a process group of its own): what
        systemd's kill of the unit's cgroup reaches."""
        groups = {self.pid} | child_process_groups(self.pid)
        for g in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(g, sig)

    def output(self):
        """(stdout, stderr) so far."""
        res = []
        for ext in (".out", ".err"):
            with open(self.base + ext, "rb") as f:
                res.append(f.read().decode("utf-8", "replace"))
        return tuple(res)

    def cleanup(self):
        """Kill what is left of its process group and reap it."""
        self.killpg(signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.wait(5)


def _smoke():
    """Bring the stack up, exercise every peer without the agent."""
    with Stack() as st:
        print("tmp", st.tmp, "pg", st.pg_port, "moto", st.moto_url, "imds", st.imds_url,
              "dbus", st.dbus_address)
        print("kong list:", st.kong("migrations", "list", "-c", "/dev/null",
                                    env={"KONG_PG_PORT": str(st.pg_port), "KONG_PG_PASSWORD": st.PASSWORD})[0])
        print("role GetSecretValue:", st.get_secret_with(st.role_credentials))
        print("unit:", st.unit_properties())
    print("ok")


if __name__ == "__main__":
    _smoke()
