'''systemd (org.freedesktop.systemd1) dbusmock template for kong-bootstrap's tests

Run with Debian's /usr/bin/python3 (python3-dbusmock 0.28):

  DBUS_SYSTEM_BUS_ADDRESS=unix:path=... /usr/bin/python3 -m dbusmock --system \
      --template tests/peers/systemd_template.py -p '<json>'

Derived from dbusmock's own systemd template (dbusmock/templates/systemd.py,
LGPL-3+, Jonas Ådahl / Martin Pitt) and extended to behave like systemd where
kong-bootstrap depends on it.

Parameters (JSON):
  {
    "call_log": "/path/systemd-calls.jsonl",   # one JSON line per Start/Stop/...
    "units": {
      "kong.service": {
        "exec": ["/tmp/x/bin/kong", "start", "-c", "/tmp/x/etc/kong/kong.conf"],
        "environment_file": "/tmp/x/run/kong-bootstrap/kong.env",
        "environment": {"PATH": "/usr/bin:/bin"},    # Environment= (optional)
        "output": "/tmp/x/log/kong.service.log"      # stdout+stderr (optional)
      }
    }
  }

Behaviour:
 * unit objects live at sd_bus_path_encode("/org/freedesktop/systemd1/unit",
   name) (e.g. kong.service -> /org/freedesktop/systemd1/unit/kong_2eservice)
   with org.freedesktop.systemd1.Unit (Id, Names, LoadState, ActiveState,
   SubState, DropInPaths) and org.freedesktop.systemd1.Service (Result,
   MainPID, EnvironmentFiles a(sb)).  A unit with "environment_file" has
   that one EnvironmentFile= and, unless "drop_in_paths" says otherwise,
   the drop-in /usr/lib/systemd/system/<unit>.d/kong-bootstrap.conf;
   AddMockUnit(name) adds a loaded unit with neither (Kong's unit without
   kong-bootstrap's drop-in).  LoadUnit of an unknown name creates it with
   LoadState "not-found", as systemd does.
 * StartUnit(name, mode) on an inactive/failed unit reads the EnvironmentFile
   exactly like systemd (see parse_env_file below) and launches "exec" in its
   own process group with that environment, like a Type=simple service: the
   job is "done" as soon as the process is forked.  If the process exits
   later the unit becomes failed with Service.Result "exit-code" (or
   "signal").  On an active unit it answers "done" without launching again.
   A missing environment file -> job "failed", Service.Result "resources".
   A unit marked with SetUnitFailure(name, result) -> job "failed", Result
   <result>, ActiveState "failed", nothing launched.
 * JobNew / JobRemoved(id, path, unit, result) are emitted after the method
   reply (GLib idle), in that order, like systemd.
 * StopUnit sends SIGTERM to the unit's process group (SIGKILL after 5 s);
   its record has "called", "signal_time" and "stopped_time".
 * ReloadUnit re-reads the EnvironmentFile and replaces the process with
   one started with the new environment (what Kong's ExecReload achieves:
   `kong prepare` and new nginx workers see the new file); inactive unit ->
   job "failed".  Recorded as one "ReloadUnit" record (plus its internal
   "ReloadUnit(stop)").
 * The mock method SetJobDelay(method, seconds) holds the JobRemoved of
   every later job of that method (e.g. "ReloadUnit") for that long: a
   slow ExecReload, whose job systemd removes only when it has run
   (0 clears it).
 * Manager.SystemState is "running"; the mock method SetSystemState(s)
   changes it ("stopping" during a shutdown).
 * Every Start/Stop/Restart/Reload call is appended to call_log.
 * All launched processes are killed when the mock exits (SIGTERM/SIGINT
   handler, atexit, and PR_SET_PDEATHSIG on each child).
'''

# This program is free software; you can redistribute it and/or modify it under
# the terms of the GNU Lesser General Public License as published by the Free
# Software Foundation; either version 3 of the License, or (at your option) any
# later version.  See http://www.gnu.org/copyleft/lgpl.html for the full text
# of the license.

import atexit
import ctypes
import json
import os
import signal
import subprocess
import time

import dbus
from dbusmock import MOCK_IFACE, mockobject
from gi.repository import GLib

BUS_PREFIX = 'org.freedesktop.systemd1'
PATH_PREFIX = '/org/freedesktop/systemd1'
UNIT_PATH_PREFIX = PATH_PREFIX + '/unit'

BUS_NAME = BUS_PREFIX
MAIN_OBJ = PATH_PREFIX
MAIN_IFACE = BUS_PREFIX + '.Manager'
UNIT_IFACE = BUS_PREFIX + '.Unit'
SERVICE_IFACE = BUS_PREFIX + '.Service'
SYSTEM_BUS = True

NO_SUCH_UNIT = BUS_PREFIX + '.NoSuchUnit'


# ---------------------------------------------------------------------------
# systemd's EnvironmentFile= parser
#
# Faithful port of parse_env_file_internal() from systemd's
# src/basic/env-file.c (systemd/systemd main, post-v254 COMMENT_ESCAPE
# semantics) together with load_env_file_push() (what EnvironmentFile= uses
# through exec_context_load_environment() -> load_env_file()).
#
# Constants from src/basic/string-util.h and src/basic/escape.h:
WHITESPACE = ' \t\n\r'
NEWLINE = '\n\r'
COMMENTS = '#;'
SHELL_NEED_ESCAPE = '"\\`$'
#
# Variable expansion: EnvironmentFile= does NOT expand "$VAR" / "${VAR}".
# load_env_file()/load_env_file_push() store the value verbatim (after the
# quoting/escaping rules below); only merge_env_file() -- used for
# environment generators and /etc/environment-style merging, not for
# EnvironmentFile= -- calls replace_env().  systemd.exec(5) says the same:
# variable expansion is not performed inside the strings (the '$' is
# literal).  Inside double quotes "\$" is unescaped to "$" (SHELL_NEED_ESCAPE)
# but no expansion happens either way.
#
# Other notable rules (all reproduced below):
#  * a line whose first non-blank char is '#' or ';' is a comment; there is
#    no inline comment: "A=b # c" gives "b # c".
#  * unquoted values: leading whitespace skipped, trailing whitespace
#    chomped, "\x" -> "x" (any char), backslash-newline joins lines.
#  * '...' keeps everything literally (no escapes) up to the next quote.
#  * "..." unescapes only \" \\ \` \$ (other "\x" stay as two chars) and
#    backslash-newline is removed.
#  * quoted and unquoted parts concatenate: A='x'"y"z -> xyz.  After a
#    closing quote the state is PRE_VALUE again, so whitespace between
#    parts is dropped.
#  * key: leading blanks skipped, trailing blanks stripped; a line without
#    '=' is silently dropped; "KEY=" gives an empty value.
#  * a later assignment of the same key replaces the earlier one.
#  * invalid UTF-8 in a key or value -> error (systemd refuses the file).
#
# Returns a list of (key, value) pairs in file order (duplicates replaced in
# place, like strv_env_replace_consume()).


def parse_env_file(data):
    '''Parse EnvironmentFile= content (str or bytes). Returns dict (ordered).'''
    if isinstance(data, bytes):
        data = data.decode('utf-8')  # systemd rejects invalid UTF-8 too
    # read_full_stream() stops at NUL for our purposes (C string)
    data = data.split('\0', 1)[0]

    PRE_KEY, KEY, PRE_VALUE, VALUE, VALUE_ESCAPE, SINGLE_QUOTE_VALUE, \
        DOUBLE_QUOTE_VALUE, DOUBLE_QUOTE_VALUE_ESCAPE, COMMENT, \
        COMMENT_ESCAPE = range(10)

    result = {}
    state = PRE_KEY
    key = []
    value = None            # None == NULL pointer in C
    last_key_ws = None      # None == SIZE_MAX
    last_value_ws = None

    def push(k, v):
        k = ''.join(k)
        v = '' if v is None else ''.join(v)
        # load_env_file_push: strjoin(key, "=", value); strv_env_replace_consume
        if k in result:
            del result[k]   # replaced in place in systemd; order is irrelevant for env
        result[k] = v

    for c in data:
        if state == PRE_KEY:
            if c in COMMENTS:
                state = COMMENT
            elif c not in WHITESPACE:
                state = KEY
                last_key_ws = None
                key.append(c)

        elif state == KEY:
            if c in NEWLINE:
                state = PRE_KEY
                key = []
            elif c == '=':
                state = PRE_VALUE
                last_value_ws = None
            else:
                if c not in WHITESPACE:
                    last_key_ws = None
                elif last_key_ws is None:
                    last_key_ws = len(key)
                key.append(c)

        elif state == PRE_VALUE:
            if c in NEWLINE:
                state = PRE_KEY
                if last_key_ws is not None:
                    del key[last_key_ws:]
                push(key, value)
                key = []
                value = None
            elif c == "'":
                state = SINGLE_QUOTE_VALUE
            elif c == '"':
                state = DOUBLE_QUOTE_VALUE
            elif c == '\\':
                state = VALUE_ESCAPE
            elif c not in WHITESPACE:
                state = VALUE
                if value is None:
                    value = []
                value.append(c)

        elif state == VALUE:
            if c in NEWLINE:
                state = PRE_KEY
                if value is not None and last_value_ws is not None:
                    del value[last_value_ws:]
                if last_key_ws is not None:
                    del key[last_key_ws:]
                push(key, value)
                key = []
                value = None
            elif c == '\\':
                state = VALUE_ESCAPE
                last_value_ws = None
            else:
                if c not in WHITESPACE:
                    last_value_ws = None
                elif last_value_ws is None:
                    last_value_ws = len(value) if value is not None else 0
                if value is None:
                    value = []
                value.append(c)

        elif state == VALUE_ESCAPE:
            state = VALUE
            if c not in NEWLINE:
                # escaped newlines are eaten entirely
                if value is None:
                    value = []
                value.append(c)

        elif state == SINGLE_QUOTE_VALUE:
            if c == "'":
                state = PRE_VALUE
            else:
                if value is None:
                    value = []
                value.append(c)

        elif state == DOUBLE_QUOTE_VALUE:
            if c == '"':
                state = PRE_VALUE
            elif c == '\\':
                state = DOUBLE_QUOTE_VALUE_ESCAPE
            else:
                if value is None:
                    value = []
                value.append(c)

        elif state == DOUBLE_QUOTE_VALUE_ESCAPE:
            state = DOUBLE_QUOTE_VALUE
            if value is None:
                value = []
            if c in SHELL_NEED_ESCAPE:
                value.append(c)
            elif c != '\n':
                value.append('\\')
                value.append(c)
            # escaped newline (continuation) eaten entirely

        elif state == COMMENT:
            if c == '\\':
                state = COMMENT_ESCAPE
            elif c in NEWLINE:
                state = PRE_KEY

        elif state == COMMENT_ESCAPE:
            # since v254 a line following a comment line that ends in '\'
            # is a normal line again
            if c in NEWLINE:
                state = PRE_KEY
            else:
                state = COMMENT

    if state in (PRE_VALUE, VALUE, VALUE_ESCAPE, SINGLE_QUOTE_VALUE,
                 DOUBLE_QUOTE_VALUE, DOUBLE_QUOTE_VALUE_ESCAPE):
        if state == VALUE and value is not None and last_value_ws is not None:
            del value[last_value_ws:]
        if last_key_ws is not None:
            del key[last_key_ws:]
        push(key, value)

    return result


def load_env_file(path):
    with open(path, 'rb') as f:
        return parse_env_file(f.read())


# ---------------------------------------------------------------------------
# sd_bus_path_encode() / bus_label_escape() from src/basic/bus-label.c:
# every byte that is not [A-Za-z0-9] becomes "_xx" (lower-case hex); a digit
# is escaped too when it is the first character; "" -> "_".

def bus_label_escape(s):
    if not s:
        return '_'
    out = []
    for i, b in enumerate(s.encode('utf-8')):
        ch = chr(b)
        if (ch.isascii() and ch.isalpha()) or (i > 0 and ch.isascii() and ch.isdigit()):
            out.append(ch)
        else:
            out.append('_%02x' % b)
    return ''.join(out)


def unit_path(name):
    return UNIT_PATH_PREFIX + '/' + bus_label_escape(name)


# ---------------------------------------------------------------------------

_children = {}   # pid -> unit name (module level so exit handlers see them)
_stopping = set()  # pids we are stopping on purpose (exit is not a failure)


def _kill_children(sig=signal.SIGTERM):
    for pid in list(_children):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _kill_children_hard():
    _kill_children(signal.SIGTERM)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(_alive(p) for p in _children):
        time.sleep(0.05)
    _kill_children(signal.SIGKILL)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # zombie? reap it if it is ours
    try:
        wpid, _ = os.waitpid(pid, os.WNOHANG)
        return wpid == 0
    except ChildProcessError:
        return True


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    # own process group (StopUnit kills the group) and die with the mock
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def load(mock, parameters):
    mock.next_job_id = 1
    mock.units = {}
    mock.unit_cfg = {}
    mock.unit_failure = {}
    mock.job_delays = {}
    mock.sd_call_log = parameters.get('call_log')

    mock.AddProperties(MAIN_IFACE, {'Version': 'v252-kong-bootstrap-mock'})
    # Manager.SystemState: "running" until a test says otherwise
    # (SetSystemState; "stopping" is a shutdown in progress)
    mock.AddProperties(MAIN_IFACE, {'SystemState': parameters.get('system_state', 'running')})

    for name, cfg in (parameters.get('units') or {}).items():
        _add_unit(mock, name, cfg)

    atexit.register(_kill_children_hard)

    def on_term(*_a):
        _kill_children_hard()
        os._exit(0)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    # GLib main loop runs in C; wake it regularly so Python signal handlers run
    GLib.timeout_add(200, lambda: True)


def _add_unit(mock, name, cfg, load_state='loaded'):
    name = str(name)
    path = unit_path(name)
    mock.units[name] = path
    mock.unit_cfg[name] = dict(cfg or {})
    mock.unit_cfg[name]['pid'] = 0
    # What systemd reports of the unit's files: the drop-in that gives it
    # EnvironmentFile= (kong-bootstrap's, unless the test names others) and
    # the files it reads, as a(sb) (path, "-" prefix).  A not-found unit
    # has neither.
    env_file = mock.unit_cfg[name].get('environment_file')
    drop_ins = mock.unit_cfg[name].get('drop_in_paths')
    if drop_ins is None:
        drop_ins = ['/usr/lib/systemd/system/%s.d/kong-bootstrap.conf' % name] if env_file else []
    mock.AddObject(path, UNIT_IFACE, {
        'Id': name,
        'Names': dbus.Array([name], signature='s'),
        'LoadState': load_state,
        'ActiveState': 'inactive',
        'SubState': 'dead',
        'DropInPaths': dbus.Array(drop_ins, signature='s'),
    }, [])
    obj = mockobject.objects[path]
    obj.AddProperties(SERVICE_IFACE, {
        'Result': 'success',
        'MainPID': dbus.UInt32(0),
        'EnvironmentFiles': dbus.Array([dbus.Struct((env_file, False), signature='sb')] if env_file else [],
                                       signature='(sb)'),
    })
    return path


def _log(mock, record):
    if not mock.sd_call_log:
        return
    record = dict(record)
    record['time'] = time.time()
    with open(mock.sd_call_log, 'a', encoding='utf-8') as f:
        f.write(json.dumps(record) + '\n')


def _unit_obj(mock, name):
    name = str(name)
    if name not in mock.units:
        raise dbus.exceptions.DBusException('Unit %s not loaded.' % name, name=NO_SUCH_UNIT)
    return mockobject.objects[mock.units[name]]


def _set_state(mock, name, active, sub, result=None, pid=None):
    obj = mockobject.objects[mock.units[name]]
    obj.UpdateProperties(UNIT_IFACE, {'ActiveState': active, 'SubState': sub})
    props = {}
    if result is not None:
        props['Result'] = result
    if pid is not None:
        props['MainPID'] = dbus.UInt32(pid)
    if props:
        obj.UpdateProperties(SERVICE_IFACE, props)


def _new_job(mock, name, result, method=None):
    job_id = mock.next_job_id
    mock.next_job_id += 1
    job_path = f'{PATH_PREFIX}/job/{job_id}'

    def emit():
        mock.EmitSignal(MAIN_IFACE, 'JobNew', 'uos', [dbus.UInt32(job_id), job_path, name])
        mock.EmitSignal(MAIN_IFACE, 'JobRemoved', 'uoss',
                        [dbus.UInt32(job_id), job_path, name, result])
        return False
    delay = mock.job_delays.get(method, 0)
    if delay:
        GLib.timeout_add(int(delay * 1000), emit)
    else:
        GLib.idle_add(emit)
    return job_path


def _is_running(mock, name):
    pid = mock.unit_cfg[name].get('pid') or 0
    return pid > 0 and pid in _children


def _on_child_exit(mock, name, pid, status):
    _children.pop(pid, None)
    if mock.unit_cfg.get(name, {}).get('pid') != pid:
        return
    mock.unit_cfg[name]['pid'] = 0
    stopping = pid in _stopping
    _stopping.discard(pid)
    if stopping:
        _set_state(mock, name, 'inactive', 'dead', pid=0)
        result = 'success'
    elif os.WIFSIGNALED(status):
        result = 'signal'
    elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
        result = 'exit-code'
    else:
        result = 'success'
    if not stopping:
        if result == 'success':
            _set_state(mock, name, 'inactive', 'dead', result, pid=0)
        else:
            _set_state(mock, name, 'failed', 'failed', result, pid=0)
    _log(mock, {'event': 'exit', 'name': name, 'pid': pid, 'status': status,
                'result': result})


# Environment variables a reload does not change for Kong (see ReloadUnit).
RELOAD_KEEPS_ENV = ('KONG_LICENSE_DATA',)


def _start(mock, name, mode, method, record_extra=None, keep_env=None):
    name = str(name)
    _unit_obj(mock, name)
    cfg = mock.unit_cfg[name]

    def finish(result, extra=None):
        rec = {'method': method, 'name': name, 'mode': str(mode), 'result': result}
        rec.update(record_extra or {})
        rec.update(extra or {})
        _log(mock, rec)
        return _new_job(mock, name, result, method)

    if name in mock.unit_failure:
        svc_result = mock.unit_failure[name]
        _set_state(mock, name, 'failed', 'failed', svc_result, pid=0)
        return finish('failed', {'service_result': svc_result})

    if _is_running(mock, name):
        return finish('done', {'already_active': True, 'pid': cfg['pid']})

    env = {}
    env.update(cfg.get('environment') or {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'})
    envfile = cfg.get('environment_file')
    if envfile:
        optional = envfile.startswith('-')
        envfile = envfile.lstrip('-')
        try:
            env.update(load_env_file(envfile))
        except FileNotFoundError:
            if not optional:
                _set_state(mock, name, 'failed', 'failed', 'resources', pid=0)
                return finish('failed', {'service_result': 'resources',
                                         'reason': 'environment file missing'})
        except (OSError, UnicodeDecodeError) as e:
            _set_state(mock, name, 'failed', 'failed', 'resources', pid=0)
            return finish('failed', {'service_result': 'resources', 'reason': type(e).__name__})

    env.update(keep_env or {})
    cfg['started_env'] = dict(env)
    argv = [str(a) for a in cfg.get('exec') or []]
    if not argv:
        _set_state(mock, name, 'active', 'exited', 'success', pid=0)
        return finish('done', {'pid': 0})

    out = subprocess.DEVNULL
    if cfg.get('output'):
        out = open(cfg['output'], 'ab')
    try:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=_child_setup,
                                close_fds=True)
    except OSError as e:
        _set_state(mock, name, 'failed', 'failed', 'exit-code', pid=0)
        return finish('failed', {'service_result': 'exit-code', 'reason': str(e)})
    finally:
        if out is not subprocess.DEVNULL:
            out.close()
    pid = proc.pid
    _children[pid] = name
    cfg['pid'] = pid
    cfg['proc'] = proc
    GLib.child_watch_add(GLib.PRIORITY_DEFAULT, pid,
                         lambda p, status: _on_child_exit(mock, name, p, status))
    _set_state(mock, name, 'active', 'running', 'success', pid=pid)
    return finish('done', {'pid': pid})


def _stop(mock, name, mode, method):
    name = str(name)
    _unit_obj(mock, name)
    cfg = mock.unit_cfg[name]
    pid = cfg.get('pid') or 0
    timing = {'called': time.time()}
    if pid and pid in _children:
        _stopping.add(pid)
        timing['signal'] = 'SIGTERM'
        timing['signal_time'] = time.time()
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.02)
        if _alive(pid):
            timing['sigkill'] = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _children.pop(pid, None)
        cfg['pid'] = 0
        timing['stopped_time'] = time.time()
    _set_state(mock, name, 'inactive', 'dead', pid=0)
    rec = {'method': method, 'name': name, 'mode': str(mode), 'result': 'done', 'pid': pid}
    rec.update(timing)
    _log(mock, rec)
    return _new_job(mock, name, 'done')


@dbus.service.method(MAIN_IFACE, in_signature='ss', out_signature='o')
def StartUnit(self, name, mode):
    return _start(self, name, mode, 'StartUnit')


@dbus.service.method(MAIN_IFACE, in_signature='ss', out_signature='o')
def StopUnit(self, name, mode):
    return _stop(self, name, mode, 'StopUnit')


@dbus.service.method(MAIN_IFACE, in_signature='ss', out_signature='o')
def RestartUnit(self, name, mode):
    if _is_running(self, str(name)):
        _stop(self, name, mode, 'RestartUnit(stop)')
    return _start(self, name, mode, 'RestartUnit')


@dbus.service.method(MAIN_IFACE, in_signature='ss', out_signature='o')
def TryRestartUnit(self, name, mode):
    if _is_running(self, str(name)):
        return RestartUnit(self, name, mode)
    _log(self, {'method': 'TryRestartUnit', 'name': str(name), 'mode': str(mode), 'result': 'done'})
    return _new_job(self, str(name), 'done')


@dbus.service.method(MAIN_IFACE, in_signature='ss', out_signature='o')
def ReloadUnit(self, name, mode):
    '''Kong's ExecReload (`kong prepare` + `nginx -s reload`) runs with the
    EnvironmentFile read anew, so new workers see a new KONG_PG_PASSWORD.
    The stand-in has no workers: the mock re-reads the env file and replaces
    the process (SIGTERM, then a new one with the new environment).  An
    inactive unit -> job "failed", like systemd.'''
    name = str(name)
    _unit_obj(self, name)
    cfg = self.unit_cfg[name]
    pid = cfg.get('pid') or 0
    rec = {'method': 'ReloadUnit', 'name': name, 'mode': str(mode), 'called': time.time(), 'old_pid': pid}
    if not (pid and pid in _children):
        rec['result'] = 'failed'   # systemd: unit not active -> reload job fails
        _log(self, rec)
        return _new_job(self, name, 'failed')
    envfile = (cfg.get('environment_file') or '').lstrip('-')
    if envfile:
        try:
            load_env_file(envfile)   # systemd refuses a reload when it cannot read it
        except (OSError, UnicodeDecodeError) as e:
            rec.update(result='failed', reason=type(e).__name__)
            _log(self, rec)
            return _new_job(self, name, 'failed')
    # What `kong prepare` writes (.kong_env, <prefix>/ssl) comes from the new
    # file, but nginx's master keeps the environment it started with and
    # new workers inherit it: a variable Kong reads with os.getenv() and not
    # through its configuration (Enterprise's KONG_LICENSE_DATA) keeps its
    # old value until the unit restarts.
    started = cfg.get('started_env') or {}
    keep = {k: started[k] for k in RELOAD_KEEPS_ENV if k in started}
    _stop(self, name, mode, 'ReloadUnit(stop)')
    # _start logs the record (method ReloadUnit) and returns the job
    return _start(self, name, mode, 'ReloadUnit', {'called': rec['called'], 'old_pid': pid}, keep_env=keep)


@dbus.service.method(MAIN_IFACE, in_signature='ss', out_signature='o')
def ReloadOrRestartUnit(self, name, mode):
    if _is_running(self, str(name)):
        return RestartUnit(self, name, mode)
    return _start(self, name, mode, 'ReloadOrRestartUnit')


@dbus.service.method(MAIN_IFACE, in_signature='ssa(sv)a(sa(sv))', out_signature='o')
def StartTransientUnit(self, name, mode, _properties, _aux):
    _log(self, {'method': 'StartTransientUnit', 'name': str(name), 'mode': str(mode), 'result': 'done'})
    return _new_job(self, str(name), 'done')


@dbus.service.method(MAIN_IFACE, in_signature='s', out_signature='o')
def GetUnit(self, name):
    name = str(name)
    if name not in self.units:
        raise dbus.exceptions.DBusException('Unit %s not loaded.' % name, name=NO_SUCH_UNIT)
    return self.units[name]


@dbus.service.method(MAIN_IFACE, in_signature='s', out_signature='o')
def LoadUnit(self, name):
    name = str(name)
    if name not in self.units:
        _add_unit(self, name, {}, load_state='not-found')
    return self.units[name]


@dbus.service.method(MAIN_IFACE, in_signature='', out_signature='')
def Subscribe(self):
    pass


@dbus.service.method(MAIN_IFACE, in_signature='', out_signature='')
def Unsubscribe(self):
    pass


@dbus.service.method(MOCK_IFACE, in_signature='s')
def AddMockUnit(self, name):
    _add_unit(self, name, {})


@dbus.service.method(MOCK_IFACE, in_signature='ss')
def SetUnitFailure(self, name, result):
    '''Make the next StartUnit of name fail with Service.Result result
    ("" clears the failure).'''
    name = str(name)
    _unit_obj(self, name)
    if str(result):
        self.unit_failure[name] = str(result)
    else:
        self.unit_failure.pop(name, None)


@dbus.service.method(MOCK_IFACE, in_signature='sd')
def SetJobDelay(self, method, seconds):
    '''Hold the JobRemoved of later jobs of method for seconds (0 clears).'''
    if seconds > 0:
        self.job_delays[str(method)] = float(seconds)
    else:
        self.job_delays.pop(str(method), None)


@dbus.service.method(MOCK_IFACE, in_signature='s')
def SetSystemState(self, state):
    '''Manager.SystemState ("running", "stopping", ...).'''
    self.UpdateProperties(MAIN_IFACE, {'SystemState': str(state)})


@dbus.service.method(MOCK_IFACE, in_signature='s')
def ResetUnit(self, name):
    '''Stop the unit's process (if any), clear failures, state inactive.'''
    name = str(name)
    _unit_obj(self, name)
    self.unit_failure.pop(name, None)
    pid = self.unit_cfg[name].get('pid') or 0
    if pid and pid in _children:
        _stop(self, name, 'replace', 'ResetUnit(stop)')
    _set_state(self, name, 'inactive', 'dead', 'success', pid=0)
