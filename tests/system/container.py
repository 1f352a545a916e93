"""A Debian 12 root booted with real systemd in systemd-nspawn, for tests/system.

    root = rootfs.prepare_run_root(workdir)      # cached debootstrap, copied
    with Container(root, logdir) as ct:
        ct.boot()
        ct.run(["systemctl", "is-active", "kong-bootstrap"])
        ct.reboot()                               # systemctl reboot + boot again
        ct.poweroff()

The root is booted with `systemd-nspawn --register=no --keep-unit -D ROOT -b`:
no machined and no scope on the host (the host need not run systemd), and
the host's network (the test stack listens on loopback). Commands run in
the container through `nsenter -t <container PID 1> -a`.

Never boot systemd against the host's own root (its tmpfiles pass empties
/tmp): Container refuses any root that is "/" or not a directory holding
the marker file the rootfs cache writes.
"""
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

SUITE = "bookworm"
VARIANT = "minbase"
# What the container needs besides minbase: real systemd as PID 1, D-Bus
# (kong-bootstrap starts kong.service over the system bus), the package's
# dependencies (dpkg -i runs offline) and the stand-in Kong's (python3,
# psycopg2; procps for kong.service's ExecStop=/bin/kill). Changing this list
# (or ROOTFS_FORMAT) builds a new cached root.
INCLUDE = ["systemd", "systemd-sysv", "dbus", "procps", "libcurl4", "libcjson1", "libpq5", "libsystemd0",
           "ca-certificates", "python3", "python3-psycopg2"]
ROOTFS_FORMAT = "1"   # bump when customize() changes
CACHE_DIR = os.environ.get("KONG_BOOTSTRAP_ROOTFS_CACHE", "/var/cache/kong-bootstrap-test")
MARKER = "etc/kong-bootstrap-test-rootfs"
CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerError(RuntimeError):
    pass


_T0 = time.monotonic()


def log(msg):
    print("system: [%5.1fs] %s" % (time.monotonic() - _T0, msg), flush=True)


def _run(argv, **kw):
    kw.setdefault("check", True)
    try:
        return subprocess.run(argv, **kw)
    except subprocess.CalledProcessError as e:
        out = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise ContainerError("%s failed (exit %d)\n%s%s" % (" ".join(argv), e.returncode, out[-3000:], err[-3000:]))


# ------------------------------------------------------------------ rootfs --
def debian_mirror():
    """The Debian mirror apt is configured with (one-line or deb822 sources),
    or $KONG_BOOTSTRAP_TEST_MIRROR."""
    env = os.environ.get("KONG_BOOTSTRAP_TEST_MIRROR")
    if env:
        return env
    files = ["/etc/apt/sources.list"]
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        files += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    for path in files:
        with contextlib.suppress(OSError):
            text = open(path, encoding="utf-8", errors="replace").read()
            if path.endswith(".sources"):
                for stanza in re.split(r"\n\s*\n", text):
                    uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                    suites = re.search(r"^Suites:\s*(.*)$", stanza, re.M)
                    if uris and suites and SUITE in suites.group(1).split():
                        return uris.group(1)
            else:
                for line in text.splitlines():
                    m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                    if m and m.group(2) == SUITE:
                        return m.group(1)
    return "http://deb.debian.org/debian"


def rootfs_key():
    h = hashlib.sha256(("%s\n%s\n%s\n%s\n" % (SUITE, VARIANT, ",".join(sorted(INCLUDE)), ROOTFS_FORMAT)).encode())
    return h.hexdigest()[:16]


def customize(root):
    """One-time setup of a fresh debootstrap root (before it is cached)."""
    # Persistent journal: the second boot's checks read the first boot's
    # records, and the operator view comes from journalctl.
    os.makedirs(os.path.join(root, "var/log/journal"), exist_ok=True)
    wants = os.path.join(root, "etc/systemd/system")
    # No login prompt on the (read-only) console; nothing to resize.
    for unit in ("console-getty.service", "getty@.service", "systemd-firstboot.service"):
        p = os.path.join(wants, unit)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
        os.symlink("/dev/null", p)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(wants, "default.target"))
    os.symlink("/lib/systemd/system/multi-user.target", os.path.join(wants, "default.target"))
    # apt's downloaded .debs are not needed any more
    arch = os.path.join(root, "var/cache/apt/archives")
    for f in os.listdir(arch):
        if f.endswith(".deb"):
            os.unlink(os.path.join(arch, f))
    with open(os.path.join(root, MARKER), "w") as f:
        f.write("kong-bootstrap system test root %s (%s %s: %s)\n" % (rootfs_key(), SUITE, VARIANT, " ".join(INCLUDE)))


def cached_rootfs():
    """Path of the cached root tarball, building it (debootstrap) if missing.
    Serialized by a lock file; the tarball appears atomically."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    tarball = os.path.join(CACHE_DIR, "rootfs-%s.tar" % rootfs_key())
    with open(os.path.join(CACHE_DIR, "lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        if os.path.exists(tarball):
            return tarball
        if not shutil.which("debootstrap"):
            raise ContainerError("debootstrap not installed: run tests/setup-deps")
        mirror = debian_mirror()
        build = tempfile.mkdtemp(prefix="build.", dir=CACHE_DIR)
        try:
            root = os.path.join(build, "root")
            log("debootstrap --variant=%s %s from %s (once per machine; cached as %s)"
                % (VARIANT, SUITE, mirror, tarball))
            t0 = time.monotonic()
            r = subprocess.run(["debootstrap", "--variant=" + VARIANT, "--include=" + ",".join(INCLUDE),
                                SUITE, root, mirror], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                tail = r.stdout.decode("utf-8", "replace")[-3000:]
                debootstrap_log = os.path.join(root, "debootstrap/debootstrap.log")
                if os.path.exists(debootstrap_log):
                    tail += "\n--- debootstrap.log (tail) ---\n" + open(debootstrap_log, errors="replace").read()[-3000:]
                raise ContainerError("debootstrap failed (exit %d):\n%s" % (r.returncode, tail))
            customize(root)
            _run(["tar", "-C", root, "--numeric-owner", "--xattrs", "-cf", tarball + ".tmp", "."])
            os.rename(tarball + ".tmp", tarball)
            log("root cached in %.0fs" % (time.monotonic() - t0))
            for old in os.listdir(CACHE_DIR):   # roots of older package lists
                if old.startswith("rootfs-") and old.endswith(".tar") and old != os.path.basename(tarball):
                    os.unlink(os.path.join(CACHE_DIR, old))
        finally:
            shutil.rmtree(build, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tarball + ".tmp")
        return tarball


def prepare_run_root(workdir):
    """A fresh copy of the cached root for this run: <workdir>/root."""
    tarball = cached_rootfs()
    root = os.path.join(workdir, "root")
    os.makedirs(root)
    _run(["tar", "-C", root, "--numeric-owner", "--xattrs", "-xf", tarball])
    # A machine id of its own (stable across this run's reboots, so that
    # journalctl finds the earlier boots' persistent journal).
    with open(os.path.join(root, "etc/machine-id"), "w") as f:
        f.write(uuid.uuid4().hex + "\n")
    return root


def check_root(root):
    root = os.path.realpath(root)
    if root == "/" or not os.path.isfile(os.path.join(root, MARKER)):
        raise ContainerError("refusing to use %s as a container root (not a test root made by "
                             "tests/system/container.py)" % root)
    return root


# --------------------------------------------------------------- container --
def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        with contextlib.suppress(OSError):
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == pid:
                out.append(int(d))
    return out


def _nspid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return []


class Container:
    def __init__(self, root, logdir, machine="ip-10-0-1-23"):
        self.root = check_root(root)
        self.logdir = logdir
        self.machine = machine
        self.proc = None
        self.leader = None
        self.boots = 0
        # the container's hostname is the machine name (debootstrap copied
        # the host's /etc/hostname)
        with open(os.path.join(self.root, "etc/hostname"), "w") as f:
            f.write(machine + "\n")
        self._cgroups_before = self._cgroup_dirs()

    # nspawn --keep-unit makes payload/ and supervisor/ cgroups under this
    # process's own cgroup in each hierarchy it uses, and a propagation
    # directory in /run; with no systemd on the host nobody removes them.
    @staticmethod
    def _cgroup_dirs():
        out = set()
        for hier in ("unified", "systemd"):
            base = "/sys/fs/cgroup/" + hier
            with contextlib.suppress(OSError):
                with open("/proc/self/cgroup") as f:
                    for line in f:
                        parts = line.rstrip("\n").split(":", 2)
                        if (hier == "unified" and parts[0] == "0") or (hier == "systemd" and parts[1] == "name=systemd"):
                            base = os.path.join(base, parts[2].lstrip("/"))
            for dirpath, dirnames, _ in os.walk(base):
                for d in dirnames:
                    out.add(os.path.join(dirpath, d))
        return out

    def _clean_host(self):
        for d in sorted(self._cgroup_dirs() - self._cgroups_before, key=len, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        with contextlib.suppress(OSError):
            os.rmdir("/run/systemd/nspawn/propagate/" + self.machine)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    # ------------------------------------------------------------ offline --
    def nspawn_run(self, argv, binds=(), timeout=300):
        """Run one command in the root (no boot): systemd-nspawn without -b."""
        if self.proc is not None:
            raise ContainerError("the container is running")
        cmd = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--link-journal=no",
               "--console=pipe", "-D", self.root, "-M", self.machine]
        for b in binds:
            cmd.append("--bind-ro=%s" % b)
        cmd += ["--setenv=PATH=" + CONTAINER_PATH, "--"] + list(argv)
        try:
            # stderr apart: nspawn warns there when it leaves its propagation
            # directory (the host's /run is not a tmpfs here)
            return _run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=timeout)
        finally:
            self._clean_host()

    # --------------------------------------------------------------- boot --
    def boot(self, timeout=120):
        """Boot the root (systemd as the container's PID 1) and wait until
        systemd has finished starting up (running or degraded)."""
        if self.proc is not None:
            raise ContainerError("already booted")
        self.boots += 1
        self.console = os.path.join(self.logdir, "console-%d.log" % self.boots)
        out = open(self.console, "wb")
        # --register=no: no machined; --keep-unit: no scope from the host's
        # systemd (nspawn stays in this process's cgroup); --link-journal=no:
        # nothing on the host's /var/log/journal.
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--link-journal=no",
             "--console=read-only", "-D", self.root, "-M", self.machine, "-b"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        t0 = time.monotonic()
        deadline = t0 + timeout
        # The container's PID 1 is nspawn's child whose innermost pid is 1
        # (nspawn is a subreaper: the payload is re-parented to it).
        while self.leader is None:
            self._check_alive("while starting")
            for c in _children(self.proc.pid):
                with contextlib.suppress(OSError):
                    ns = _nspid(c)
                    if len(ns) >= 2 and ns[-1] == 1:
                        with open("/proc/%d/comm" % c) as f:
                            if f.read().strip() == "systemd":
                                self.leader = c
            if time.monotonic() > deadline:
                raise ContainerError("no systemd PID 1 in the container after %ds%s" % (timeout, self.console_tail()))
            time.sleep(0.1)
        state = ""
        while time.monotonic() < deadline:
            self._check_alive("while booting")
            r = self.run(["systemctl", "is-system-running"], check=False, timeout=30)
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                self.boot_seconds = time.monotonic() - t0
                return state
            time.sleep(0.3)
        raise ContainerError("boot %d not finished after %ds (is-system-running: %s)%s"
                             % (self.boots, timeout, state, self.console_tail()))

    def _check_alive(self, what):
        if self.proc.poll() is not None:
            code = self.proc.returncode
            self.proc = self.leader = None
            self._clean_host()
            raise ContainerError("systemd-nspawn exited with %s %s%s" % (code, what, self.console_tail()))

    def console_tail(self, n=4000):
        with contextlib.suppress(OSError, AttributeError):
            with open(self.console, "rb") as f:
                data = f.read()[-n:]
            return "\n--- container console (tail) ---\n" + data.decode("utf-8", "replace")
        return ""

    def run(self, argv, check=True, timeout=60, text=True):
        """Run a command in the booted container (all its namespaces, its
        root), with a clean environment; returns CompletedProcess."""
        if self.leader is None:
            raise ContainerError("not booted")
        cmd = ["nsenter", "-t", str(self.leader), "-a", "--", "/usr/bin/env", "-i",
               "PATH=" + CONTAINER_PATH, "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0",
               "TERM=dumb", "COLUMNS=200"] + list(argv)
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=text)
        if check and r.returncode != 0:
            raise ContainerError("in the container: %s: exit %d\n%s%s"
                                 % (" ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def show(self, unit, *props):
        """systemctl show UNIT -p P1,P2 → dict."""
        r = self.run(["systemctl", "show", unit, "-p", ",".join(props)])
        return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)

    # ----------------------------------------------------- shutdown/reboot --
    def _wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ContainerError("the container did not stop within %ds%s" % (timeout, self.console_tail()))
        finally:
            if self.proc.poll() is not None:
                self.proc = self.leader = None
                self._clean_host()

    def poweroff(self, timeout=90):
        """`systemctl poweroff` in the container; nspawn exits 0."""
        if self.proc is None:
            return
        self.run(["systemctl", "--no-block", "poweroff"], check=False)
        code = self._wait_exit(timeout)
        if code != 0:
            raise ContainerError("systemd-nspawn exited %s after poweroff%s" % (code, self.console_tail()))

    def reboot(self, timeout=90, between=None):
        """`systemctl reboot` in the container: nspawn exits 133 and, like
        systemd-nspawn@.service (RestartForceExitStatus=133), is started
        again on the same root (between() runs while it is down)."""
        self.run(["systemctl", "--no-block", "reboot"], check=False)
        code = self._wait_exit(timeout)
        if code != 133:
            raise ContainerError("systemd-nspawn exited %s after reboot, expected 133%s" % (code, self.console_tail()))
        if between:
            between()
        return self.boot()

    def kill(self):
        """Stop whatever runs (clean-up path): SIGTERM to nspawn (an orderly
        poweroff of the container), then SIGKILL to its process group."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                if self.leader:
                    os.kill(self.leader, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        self.proc = self.leader = None
        self._clean_host()
