#!/usr/bin/python3
"""A failed write leaves the previous file byte-identical; a successful one
is durable (fsync of the temp file before the rename, of the directory
after it: observed with strace).

Needs root (mount(2) of a small tmpfs, a read-only remount). Where mount is
not permitted the tests fail with the reason: they never skip.

Run: /usr/bin/python3 tests/integration/test_render_atomic.py
"""
import contextlib
import os
import re
import subprocess
import unittest

from common import StackTestCase, slurp

PAGE = os.sysconf("SC_PAGE_SIZE")


def fs_type(path):
    r = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True, check=True)
    return r.stdout.strip()


STRACE = ["strace", "-f", "--seccomp-bpf", "-qq", "-y", "-e", "signal=none",
          "-e", "trace=fsync,fdatasync,rename,renameat,renameat2"]


def sync_calls(trace):
    """strace -y output as ("sync", path) and ("rename", from, to), in order,
    successful calls only; rename paths resolved like the fd paths -y shows."""
    def real(p):
        return os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
    out = []
    with open(trace) as f:
        for line in f:
            m = re.match(r'\d+ +f(?:data)?sync\(\d+<(.*)>\) += 0$', line.strip())
            if m:
                out.append(("sync", m.group(1)))
                continue
            m = re.match(r'\d+ +rename(?:at2?)?\((?:[^,]*, )?"([^"]*)", (?:[^,]*, )?"([^"]*)".*\) += 0$',
                         line.strip())
            if m:
                out.append(("rename", real(m.group(1)), real(m.group(2))))
    return out


class Atomic(StackTestCase):
    def mount_tmpfs(self, path, size, mode="0755"):
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=%s" % (size, mode), "tmpfs", path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.fail("cannot mount a tmpfs on %s (euid %d): %s -- this test needs mount(2) "
                      "(root, CAP_SYS_ADMIN)" % (path, os.geteuid(), r.stderr.strip()))
        self.addCleanup(self.umount, path)

    def umount(self, path):
        r = subprocess.run(["umount", path], capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run(["umount", "-l", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "umount %s: %s" % (path, r.stderr))

    def snapshot(self, *paths):
        return {p: (os.stat(p).st_ino, os.stat(p).st_mtime_ns, slurp(p)) for p in paths}

    def assertUnchanged(self, snap):
        for p, (ino, mtime, data) in snap.items():
            s = os.stat(p)
            self.assertEqual(slurp(p), data, "%s changed\n%s" % (p, self.explain()))
            self.assertEqual((s.st_ino, s.st_mtime_ns), (ino, mtime), "%s replaced\n%s" % (p, self.explain()))

    def assertNoTempFiles(self, d, allowed):
        left = sorted(set(os.listdir(d)) - set(allowed))
        self.assertEqual(left, [], "left behind in %s" % d)

    def assertDurable(self, calls, path):
        """path came from a temp file fsynced before the rename, and its
        directory was fsynced after it."""
        d = os.path.realpath(os.path.dirname(path))
        dst = os.path.join(d, os.path.basename(path))
        story = "\n".join(" ".join(c) for c in calls)
        renames = [i for i, c in enumerate(calls) if c[0] == "rename" and c[2] == dst]
        self.assertEqual(len(renames), 1, "%s: not put in place by exactly one rename\n%s" % (path, story))
        i = renames[0]
        tmp = calls[i][1]
        self.assertIn(("sync", tmp), calls[:i],
                      "%s: its temp file was not fsynced before the rename that puts it in place (a "
                      "power cut could leave an empty or partial file under the real name)\n%s" % (path, story))
        self.assertIn(("sync", d), calls[i + 1:],
                      "%s: its directory was not fsynced after the rename (a power cut could lose the "
                      "rename)\n%s" % (path, story))

    # ------------------------------------------------------------------
    def test_writes_are_durable(self):
        """kong.conf and the env file: fsync(temp file), rename, fsync(dir)."""
        st = self.st
        trace = os.path.join(st.tmp, "log", "agent.strace")
        code, out, err = self.run_agent(wrap=STRACE + ["-o", trace])
        self.assertExit(0, code)
        calls = sync_calls(trace)
        for path in (st.kong_conf, st.kong_env_file):
            self.assertDurable(calls, path)

    def test_env_file_full_tmpfs(self):
        """Disk full midway through the env file: exit 15, the old file as it
        was, no temp file left; with room again the same run succeeds."""
        st = self.st
        envdir = os.path.dirname(st.kong_env_file)
        self.mount_tmpfs(envdir, "32k", "0700")   # kong.env, its temp file, status.json
        self.assertEqual(fs_type(envdir), "tmpfs")
        code, out, err = self.run_agent()
        self.assertExit(0, code)
        snap = self.snapshot(st.kong_conf, st.kong_env_file)

        # fill the tmpfs, then free exactly one page: the new env file's
        # temp file can be created and its first page written, not more
        filler = os.path.join(envdir, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            while os.write(fd, b"\0" * PAGE) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        size = os.path.getsize(filler)
        os.truncate(filler, size - size % PAGE - PAGE)
        vfs = os.statvfs(envdir)
        self.assertEqual(vfs.f_bavail * vfs.f_frsize, PAGE, "could not leave exactly one free page")

        # (ends in "x": a trailing blank is a password Kong's workers would
        # trim, refused since issue 14)
        long_pw = ("r0tated#pw;\"'$\\ " * 600)[:2 * PAGE + 99] + "x"
        st.update_secret(password=long_pw)
        st.set_db_password(long_pw)
        code, out, err = self.run_agent()
        self.assertExit(15, code)
        self.assertUnchanged(snap)
        self.assertNoTempFiles(envdir, ["kong.env", "filler", os.path.basename(st.status_file)])
        self.assertNoTempFiles(os.path.dirname(st.kong_conf), ["kong.conf"])
        self.assertNotIn(long_pw[:20], err + out)
        self.assertIn(st.kong_env_file, err)
        self.assertIn("left as it was", err)

        os.unlink(filler)
        st.reset_unit()     # the running stand-in Kong still has the old password
        code, out, err = self.run_agent()
        self.assertExit(0, code)
        self.assertIn(long_pw.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$"),
                      slurp(st.kong_env_file).decode())

    def test_env_file_not_on_tmpfs_refused(self):
        st = self.st
        disk = os.path.join(st.tmp, "disk")
        os.makedirs(disk, exist_ok=True)
        self.assertNotIn(fs_type(disk), ("tmpfs", "ramfs"), "the stack's temp dir is on tmpfs here")
        path = os.path.join(disk, "kong.env")
        code, out, err = self.run_agent(config=st.agent_config(kong_env_file=path))
        self.assertExit(15, code)
        self.assertIn("not on tmpfs", err)
        self.assertIn(path, err)
        self.assertFalse(os.path.exists(path))
        self.assertFalse(os.path.exists(st.kong_conf), "kong.conf written before the env file was refused")
        self.assertEqual(os.listdir(disk), [])

    def test_read_only_kong_conf_directory(self):
        """A kong.conf directory that cannot be written: exit 15, the old file
        intact and the message says so."""
        st = self.st
        # the stand-in systemd starts Kong with the stack's kong.conf path:
        # mount over its (empty, after reset) directory
        conf = st.kong_conf
        d = os.path.dirname(conf)
        self.assertEqual(os.listdir(d), [])
        self.mount_tmpfs(d, "64k")
        cfg = st.agent_config()
        code, out, err = self.run_agent(config=cfg)
        self.assertExit(0, code)
        snap = self.snapshot(conf, st.kong_env_file)
        r = subprocess.run(["mount", "-o", "remount,ro", d], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "remount ro: %s" % r.stderr)
        code, out, err = self.run_agent(["run", "--oneshot", "--set", "kong.log_level=debug"], config=cfg)
        self.assertExit(15, code)
        self.assertUnchanged(snap)
        self.assertNoTempFiles(d, ["kong.conf"])
        self.assertIn(conf, err)
        self.assertIn("left as it was", err, "the message does not say the old file is intact")

    def test_immutable_kong_conf_directory(self):
        """Root is not stopped by mode bits; an immutable directory (chattr +i)
        is unwritable even for root."""
        st = self.st
        d = os.path.dirname(st.kong_conf)
        code, out, err = self.run_agent()
        self.assertExit(0, code)
        snap = self.snapshot(st.kong_conf, st.kong_env_file)
        r = subprocess.run(["chattr", "+i", d], capture_output=True, text=True)
        if r.returncode != 0:
            self.fail("chattr +i %s failed (%s): needs root on a file system with attributes" % (d, r.stderr))
        self.addCleanup(subprocess.run, ["chattr", "-i", d])
        code, out, err = self.run_agent(["run", "--oneshot", "--set", "kong.log_level=debug"])
        self.assertExit(15, code)
        with contextlib.suppress(Exception):
            subprocess.run(["chattr", "-i", d], check=True)
        self.assertUnchanged(snap)
        self.assertNoTempFiles(d, ["kong.conf"])
        self.assertIn(st.kong_conf, err)
        self.assertIn("left as it was", err, "the message does not say the old file is intact")


if __name__ == "__main__":
    unittest.main(verbosity=2)
