#!/usr/bin/python3
"""Fault-injecting HTTP proxy in front of moto_server, for kong-bootstrap's
Secrets Manager tests (Debian /usr/bin/python3, stdlib only).

Usage: faultproxy.py --upstream http://127.0.0.1:PORT --control CONTROL.json
                     --log REQUESTS.jsonl [--listeners N] [--port-file PATH]
                     [--parent-pid PID]

The agent's ``secretsmanager_endpoint`` points here.  Every request is
forwarded unchanged (method, path, body and every header, the Host header
exactly as received: moto verifies the SigV4 signature over it) unless a
rule of the control file says otherwise.  The control file is re-read on
every request:

  {"nonce": ANY, "rules": [RULE, ...]}

The first rule that applies decides; a request no rule applies to is
forwarded.  Fields of a RULE:

Like Secrets Manager, the proxy refuses (HTTP 400, InvalidSignatureException,
AWS's text, with a Date header) a request whose X-Amz-Date is more than 5
minutes from its clock, before any rule applies: "Signature expired: … is
now earlier than … (… - 5 min.)" / "Signature not yet current: … is still
later than … (… + 5 min.)" (logged with action "skew").

  action       "error"     answer STATUS with an AWS JSON error, not forwarded:
                           {"__type": CODE, "message": MESSAGE}
               "throttle"  = error 400 ThrottlingException "Rate exceeded"
               "reset"     abort the connection (TCP RST) without answering
               "drop"      close the connection (FIN) without answering
               "truncate"  forward, then answer 200 with the first half of
                           moto's body (Content-Length consistent with it)
               "body"      answer STATUS (default 200) with BODY verbatim
               "oversize"  answer 200 with a JSON-looking body of SIZE bytes
                           (default 300 KiB); "chunked": true sends it with
                           Transfer-Encoding: chunked and no Content-Length
               "forward"   forward (with "delay": a slow answer)
  status, code, message, body, size, chunked   parameters of the action
  delay        seconds to sleep before acting
  count        the rule applies this many times, then never (default: always)
  probability  applies with this probability (0..1)
  after, until applies only between these times (epoch seconds, time.time())
  target       applies only when X-Amz-Target contains this text
  announce     true: log the request (action "arrived") when it arrives,
               before any delay, besides the record when it is answered --
               so a test sees a slow answer in progress
  barrier      N: the first N requests the rule applies to are held until
               all N have arrived (or "barrier_timeout" seconds, default 30,
               passed since the first), then all are answered at once --
               a fleet launched together, hitting the API in one wave

Counters (count, barrier) restart when the control file's content changes
(write a new "nonce" to restart them for the same rules).

Each request is appended to the JSON-lines log --log: time (when it
arrived), done (when it was answered), listener (index of the listening
socket, see --listeners), client_port, method, path, target (X-Amz-Target),
secret_id (the SecretId of the request body, a name, never a value),
action, rule (index or null), status (HTTP status sent; null for
reset/drop).  Nothing secret is logged: no headers, no bodies.

--listeners N opens N listening sockets on free ports (all forwarding to
the same upstream, all logged with their index) so that each of N
concurrent agents can be told apart; the ports go to --port-file as a JSON
list, and on stdout as ``PORTS p1 p2 ...``.

--parent-pid PID: exit when that process is gone (no orphan on a crashed
harness).
"""
import argparse
import hashlib
import http.client
import http.server
import json
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse

import peerserver
from aws_clock import skew_error

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}


class SkewRefused(Exception):
    pass


class State:
    def __init__(self, args):
        self.control_path = args.control
        self.log_path = args.log
        up = urllib.parse.urlsplit(args.upstream)
        self.upstream_host = up.hostname
        self.upstream_port = up.port or 80
        self.lock = threading.Lock()
        self.generation = None
        self.uses = {}          # rule index -> times applied
        self.barriers = {}      # rule index -> {"n", "first", "cond", "released"}

    def control(self):
        try:
            with open(self.control_path, encoding="utf-8") as f:
                raw = f.read()
        except FileNotFoundError:
            raw = "{}"
        cfg = json.loads(raw or "{}")
        gen = hashlib.sha256(raw.encode()).hexdigest()
        with self.lock:
            if gen != self.generation:
                self.generation = gen
                self.uses = {}
                for b in self.barriers.values():   # release anything still held
                    with b["cond"]:
                        b["released"] = True
                        b["cond"].notify_all()
                self.barriers = {}
        return cfg

    def log(self, rec):
        line = json.dumps(rec) + "\n"
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line)


class Handler(http.server.BaseHTTPRequestHandler):
    # Headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms per reused connection).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    # ------------------------------------------------------------------
    def _read_body(self):
        n = self.headers.get("Content-Length")
        if n:
            try:
                return self.rfile.read(int(n))
            except ValueError:
                return b""
        return b""

    def _reply(self, status, body, ctype="application/x-amz-json-1.1", chunked=False):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("x-amzn-RequestId", "fa017000-0000-4000-8000-%012d" % random.randrange(10**12))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if chunked:
            step = 16384
            for i in range(0, len(body), step):
                part = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)
        self.wfile.flush()
        return status

    def _abort(self, rst):
        self.close_connection = True
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return None

    def _forward(self, body):
        """Send the request to moto unchanged; (status, headers, body)."""
        c = http.client.HTTPConnection(self.server.state.upstream_host, self.server.state.upstream_port,
                                       timeout=60)
        try:
            c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() in HOP_BY_HOP:
                    continue
                c.putheader(k, v)
            c.endheaders(body if body else None)
            r = c.getresponse()
            data = r.read()
            headers = [(k, v) for k, v in r.getheaders()
                       if k.lower() not in HOP_BY_HOP and k.lower() not in ("content-length", "server", "date")]
            return r.status, headers, data
        finally:
            c.close()

    def _relay(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        return status

    # ------------------------------------------------------------------
    def _pick(self, cfg):
        st = self.server.state
        now = time.time()
        target = self.headers.get("X-Amz-Target") or ""
        for i, rule in enumerate(cfg.get("rules") or []):
            if rule.get("target") and rule["target"] not in target:
                continue
            if rule.get("after") is not None and now < float(rule["after"]):
                continue
            if rule.get("until") is not None and now >= float(rule["until"]):
                continue
            if rule.get("probability") is not None and random.random() >= float(rule["probability"]):
                continue
            with st.lock:
                used = st.uses.get(i, 0)
                if rule.get("count") is not None and used >= int(rule["count"]):
                    continue
                st.uses[i] = used + 1
                barrier = None
                if rule.get("barrier"):
                    barrier = st.barriers.setdefault(i, {"n": 0, "first": time.monotonic(),
                                                         "cond": threading.Condition(), "released": False})
                    if used >= int(rule["barrier"]):
                        barrier = None   # past the wave: act at once
            if barrier is not None:
                self._wait_barrier(barrier, int(rule["barrier"]), float(rule.get("barrier_timeout", 30)))
            return i, rule
        return None, None

    @staticmethod
    def _wait_barrier(b, n, timeout):
        with b["cond"]:
            b["n"] += 1
            if b["n"] >= n:
                b["released"] = True
                b["cond"].notify_all()
            deadline = b["first"] + timeout
            while not b["released"]:
                left = deadline - time.monotonic()
                if left <= 0:
                    b["released"] = True
                    b["cond"].notify_all()
                    break
                b["cond"].wait(left)

    def _handle(self):
        st = self.server.state
        arrived = time.time()
        body = self._read_body()
        secret_id = None
        try:
            sid = json.loads(body.decode("utf-8")).get("SecretId") if body else None
            secret_id = sid if isinstance(sid, str) else None
        except (ValueError, UnicodeDecodeError, AttributeError):
            pass
        skew = skew_error(self.headers.get("X-Amz-Date"))
        try:
            cfg = st.control()
            if skew:
                raise SkewRefused(skew)
        except SkewRefused as e:
            status = self._reply(400, json.dumps({"__type": "InvalidSignatureException", "message": str(e)}))
            action, idx = "skew", None
        except Exception as e:   # unreadable control file: a loud 500
            cfg = {}
            status = self._reply(500, json.dumps({"__type": "FaultProxyControlError", "message": str(e)}))
            action, idx = "control-error", None
        else:
            idx, rule = self._pick(cfg)
            rule = rule or {"action": "forward"}
            action = rule.get("action", "forward")
            if rule.get("announce"):
                st.log({"time": arrived, "listener": self.server.index, "client_port": self.client_address[1],
                        "method": self.command, "path": self.path, "target": self.headers.get("X-Amz-Target"),
                        "secret_id": secret_id, "action": "arrived", "rule": idx, "status": None})
            if rule.get("delay"):
                time.sleep(float(rule["delay"]))
            status = self._act(action, rule, body)
        st.log({"time": arrived, "done": time.time(), "listener": self.server.index,
                "client_port": self.client_address[1], "method": self.command,
                "path": self.path, "target": self.headers.get("X-Amz-Target"), "secret_id": secret_id,
                "action": action, "rule": idx, "status": status})

    def _act(self, action, rule, body):
        if action == "throttle":
            return self._reply(int(rule.get("status", 400)), json.dumps({
                "__type": rule.get("code", "ThrottlingException"),
                "message": rule.get("message", "Rate exceeded")}))
        if action == "error":
            doc = {"__type": rule.get("code", "InternalServiceError")}
            doc[rule.get("message_key", "message")] = rule.get("message", "injected by faultproxy")
            return self._reply(int(rule.get("status", 500)), json.dumps(doc))
        if action == "reset":
            return self._abort(rst=True)
        if action == "drop":
            return self._abort(rst=False)
        if action == "body":
            return self._reply(int(rule.get("status", 200)), rule.get("body", ""),
                               ctype=rule.get("content_type", "application/x-amz-json-1.1"))
        if action == "oversize":
            size = int(rule.get("size", 300 * 1024))
            head = b'{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:big","Name":"big",' \
                   b'"SecretString":"'
            tail = b'","VersionId":"v1"}'
            filler = b"A" * max(0, size - len(head) - len(tail))
            return self._reply(200, head + filler + tail, chunked=bool(rule.get("chunked")))
        if action == "truncate":
            status, headers, data = self._forward(body)
            if status != 200:
                return self._relay(status, headers, data)
            return self._relay(200, headers, data[:max(1, len(data) // 2)])
        status, headers, data = self._forward(body)
        return self._relay(status, headers, data)

    def do_POST(self):
        self._handle()

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--listeners", type=int, default=1)
    ap.add_argument("--port-file")
    ap.add_argument("--parent-pid", type=int)
    a = ap.parse_args()
    state = State(a)
    servers = []
    for i in range(a.listeners):
        srv = peerserver.Server((a.host, 0), Handler)
        srv.state = state
        srv.index = i
        servers.append(srv)
    ports = [s.server_address[1] for s in servers]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    peerserver.exit_with_parent(a.parent_pid)
    peerserver.announce(a.port_file, json.dumps(ports), "PORTS %s" % " ".join(map(str, ports)))
    return peerserver.serve_forever(servers[0])


if __name__ == "__main__":
    sys.exit(main())
