#!/usr/bin/env python3
"""Strict Amazon EC2 Auto Scaling emulator (lifecycle hooks only) for
kong-bootstrap's tests.  moto has no CompleteLifecycleAction, so this is ours.

Needs botocore (the pyenv python3, like moto_server): every request's SigV4
signature is recomputed with botocore's SigV4Auth.

Usage: autoscaling.py --config CONFIG.json [--host 127.0.0.1] [--port 0]
                      [--port-file PATH] [--parent-pid PID]

Like the real Query API endpoint (https://autoscaling.<region>.amazonaws.com):

* only ``POST /`` with ``Content-Type: application/x-www-form-urlencoded``
  (parameters such as ``; charset=utf-8`` allowed) and no query string;
  anything else -> 400 (GET/other methods -> 405, another path -> 404);
* ``Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/autoscaling/
  aws4_request, SignedHeaders=..., Signature=...``: the signature is
  recomputed from the request as received (method, path, the Host header as
  sent, exactly the headers named in SignedHeaders, the body).  ``host`` and
  ``x-amz-date`` must be signed; the scope's date must be X-Amz-Date's, the
  region the configured one, the service ``autoscaling``; X-Amz-Date within
  15 minutes of now; ``X-Amz-Content-SHA256``, when sent, must be the
  body's hash.  Errors as AWS gives them (HTTP 403 unless said otherwise):
  missing/malformed Authorization -> MissingAuthenticationToken /
  IncompleteSignature (400), unknown access key -> InvalidClientTokenId,
  missing or wrong X-Amz-Security-Token for a key that has a token ->
  InvalidClientTokenId, bad signature -> SignatureDoesNotMatch, stale date
  -> SignatureDoesNotMatch with AWS's text: "Signature expired: … is now
  earlier than … (… - 5 min.)" or "Signature not yet current: … is still
  later than … (… + 5 min.)", and a Date header (clients correct their
  clock from it).
* ``Version`` must be ``2011-01-01``; ``Action`` one of
  ``CompleteLifecycleAction`` (AutoScalingGroupName, LifecycleHookName,
  InstanceId, LifecycleActionResult in {CONTINUE, ABANDON}) and
  ``RecordLifecycleActionHeartbeat`` (the same without the result);
  unknown actions -> InvalidAction, missing parameters -> MissingParameter,
  unknown parameters or a bad result -> ValidationError (400).
* an "active lifecycle action" per (group, hook, instance), configured by
  the test; without one -> 400 ValidationError "No active Lifecycle Action
  found with instance ID <id>" (what AWS answers).  CompleteLifecycleAction
  ends the action (a second one gets that ValidationError); heartbeats keep it.
* errors: ``<ErrorResponse xmlns=...><Error><Type>Sender</Type><Code/>
  <Message/></Error><RequestId/></ErrorResponse>``.

The config file is re-read on every request.  Keys:

  region          (default us-east-1)
  credentials     list of {"AccessKeyId", "SecretAccessKey", "Token"}
                  accepted (Token null/absent: a long-term key, no token)
  active          list of [group, hook, instance_id]
  deny            list of action names the role's policy does not allow:
                  403 AccessDenied with IAM's "User: <caller_arn> is not
                  authorized to perform: autoscaling:<Action> on resource:
                  <group ARN> because no identity-based policy allows …"
  caller_arn      the assumed-role ARN named in that message
  nonce           any value; changing it forgets which actions were
                  completed (so the same list can be reused by a new test)
  faults          list of {"action": NAME (optional), "status": HTTP,
                  "code": CODE, "message": TEXT, "count": N (optional),
                  "delay": SECONDS (optional)}: answered after the signature
                  check, instead of the real answer
  call_log        path of a JSON-lines log, one record per request: time,
                  method, path, status, code (error code or null), action,
                  params (dict, form-decoded), access_key, signed_headers,
                  content_type

Readiness: the chosen port is written atomically to --port-file and printed
as ``PORT <n>``.  With --parent-pid the emulator exits when that process is
gone.
"""
import argparse
import http.server
import json
import sys
import threading
import time
import urllib.parse

import uuid

import peerserver
import sigv4_verify

XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
VERSION = "2011-01-01"
ACTIONS = {
    "CompleteLifecycleAction": {"required": ["AutoScalingGroupName", "LifecycleHookName",
                                             "LifecycleActionResult"],
                                "optional": ["InstanceId", "LifecycleActionToken"]},
    "RecordLifecycleActionHeartbeat": {"required": ["AutoScalingGroupName", "LifecycleHookName"],
                                       "optional": ["InstanceId", "LifecycleActionToken"]},
}
def xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


class ApiError(Exception):
    def __init__(self, status, code, message, type_="Sender"):
        super().__init__(message)
        self.status, self.code, self.message, self.type = status, code, message, type_


class State:
    def __init__(self, config_path):
        self.config_path = config_path
        self.lock = threading.Lock()
        self.completed = set()      # (nonce, group, hook, instance)
        self.fault_uses = {}        # (nonce, index) -> uses

    def config(self):
        with open(self.config_path, encoding="utf-8") as f:
            return json.load(f)


class Handler(http.server.BaseHTTPRequestHandler):
    # Headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms per reused connection).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "Server"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    # ------------------------------------------------------------------
    def _reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("x-amzn-RequestId", self._request_id)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Date", self.date_time_string())
        self.end_headers()
        self.wfile.write(data)

    def _error(self, e):
        self._rec.update(status=e.status, code=e.code, message=e.message)
        self._reply(e.status, '<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n'
                    '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
                    '  <RequestId>%s</RequestId>\n</ErrorResponse>\n'
                    % (XMLNS, e.type, xml_escape(e.code), xml_escape(e.message), self._request_id))

    def _log(self):
        path = (self._cfg or {}).get("call_log")
        if not path:
            return
        line = json.dumps(self._rec) + "\n"
        with self.server.state.lock:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)

    def _begin(self):
        self._request_id = str(uuid.uuid4())
        self._rec = {"time": time.time(), "method": self.command, "path": self.path, "status": None,
                     "code": None, "action": None, "params": None, "access_key": None,
                     "signed_headers": None, "content_type": self.headers.get("Content-Type")}
        self._cfg = None
        n = self.headers.get("Content-Length")
        body = b""
        if n:
            try:
                body = self.rfile.read(int(n))
            except ValueError:
                body = b""
        try:
            self._cfg = self.server.state.config()
        except Exception as e:   # noqa
            self._cfg = {}
            self._error(ApiError(500, "InternalFailure", "emulator config unreadable: %s" % e, "Receiver"))
            return None
        return body

    # ------------------------------------------------------------------
    def _not_allowed(self):
        if self._begin() is None:
            self._log()
            return
        self._error(ApiError(405, "MethodNotAllowed", "The method %s is not allowed" % self.command))
        self._log()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def do_POST(self):
        body = self._begin()
        if body is None:
            self._log()
            return
        try:
            self._handle(body)
        except ApiError as e:
            self._error(e)
        self._log()

    # ------------------------------------------------------------------
    def _handle(self, body):
        split = urllib.parse.urlsplit(self.path)
        if split.path != "/":
            raise ApiError(404, "UnknownOperationException", "no such resource: %s" % split.path)
        if split.query:
            raise ApiError(400, "InvalidQueryParameter",
                           "this emulator wants the parameters in the body only, not in the query string")
        ctype = self.headers.get("Content-Type") or ""
        if ctype.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
            raise ApiError(400, "InvalidParameterValue",
                           "Content-Type must be application/x-www-form-urlencoded, got %r" % ctype)
        try:
            text = body.decode("utf-8")
            pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError) as e:
            raise ApiError(400, "MalformedQueryString", "body is not a form: %s" % e)
        params = {}
        for k, v in pairs:
            if k in params:
                raise ApiError(400, "ValidationError", "parameter %s given twice" % k)
            params[k] = v
        self._rec["params"] = params
        self._rec["action"] = params.get("Action")

        self._verify_signature(body)

        action = params.get("Action")
        if not action:
            raise ApiError(400, "MissingAction", "Missing Action")
        if action not in ACTIONS:
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, params.get("Version")))
        if params.get("Version") != VERSION:
            raise ApiError(400, "InvalidParameterValue", "Version must be %s, got %r"
                           % (VERSION, params.get("Version")))

        # IAM: the role's policy does not allow these actions (before the
        # parameters are looked at, as AWS authorizes first)
        if action in (self._cfg.get("deny") or []):
            arn = self._cfg.get("caller_arn") or "arn:aws:sts::123456789012:assumed-role/kong-node/i-0"
            raise ApiError(403, "AccessDenied",
                           "User: %s is not authorized to perform: autoscaling:%s on resource: "
                           "arn:aws:autoscaling:%s:123456789012:autoScalingGroup:*:autoScalingGroupName/%s "
                           "because no identity-based policy allows the autoscaling:%s action"
                           % (arn, action, self._cfg.get("region", "us-east-1"),
                              params.get("AutoScalingGroupName", ""), action))

        # injected faults (after authentication, like an IAM denial)
        for i, f in enumerate(self._cfg.get("faults") or []):
            if f.get("action") and f["action"] != action:
                continue
            key = (json.dumps(self._cfg.get("nonce")), i)
            with self.server.state.lock:
                used = self.server.state.fault_uses.get(key, 0)
                if f.get("count") is not None and used >= f["count"]:
                    continue
                self.server.state.fault_uses[key] = used + 1
            if f.get("delay"):
                time.sleep(float(f["delay"]))
            if f.get("status"):
                raise ApiError(int(f["status"]), f.get("code", "InternalFailure"),
                               f.get("message", "fault injected"),
                               "Receiver" if int(f["status"]) >= 500 else "Sender")

        spec = ACTIONS[action]
        allowed = {"Action", "Version"} | set(spec["required"]) | set(spec["optional"])
        for k in params:
            if k not in allowed:
                raise ApiError(400, "ValidationError", "Unknown parameter %s for %s" % (k, action))
        for k in spec["required"]:
            if not params.get(k):
                raise ApiError(400, "MissingParameter",
                               "The request must contain the parameter %s" % k)
        if not params.get("InstanceId") and not params.get("LifecycleActionToken"):
            raise ApiError(400, "ValidationError",
                           "Either InstanceId or LifecycleActionToken must be specified")
        if action == "CompleteLifecycleAction" and params["LifecycleActionResult"] not in ("CONTINUE", "ABANDON"):
            raise ApiError(400, "ValidationError",
                           "1 validation error detected: Value '%s' at 'lifecycleActionResult' failed to "
                           "satisfy constraint: Member must be CONTINUE or ABANDON"
                           % params["LifecycleActionResult"])

        group, hook = params["AutoScalingGroupName"], params["LifecycleHookName"]
        instance = params.get("InstanceId") or ""
        nonce = json.dumps(self._cfg.get("nonce"))
        active = {tuple(a) for a in (self._cfg.get("active") or [])}
        with self.server.state.lock:
            is_active = (group, hook, instance) in active and \
                (nonce, group, hook, instance) not in self.server.state.completed
            if is_active and action == "CompleteLifecycleAction":
                self.server.state.completed.add((nonce, group, hook, instance))
        if not is_active:
            raise ApiError(400, "ValidationError",
                           "No active Lifecycle Action found with instance ID %s" % instance)
        self._rec.update(status=200)
        self._reply(200, '<%sResponse xmlns="%s">\n  <%sResult/>\n  <ResponseMetadata>\n'
                    '    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</%sResponse>\n'
                    % (action, XMLNS, action, self._request_id, action))

    # ------------------------------------------------------------------
    def _verify_signature(self, body):
        """AWS's SigV4 check (sigv4_verify.py, shared with cloudformation.py)."""
        self._rec["access_key"] = None
        try:
            akid, signed = sigv4_verify.verify(self.headers, self.command, self.path, body, self._cfg,
                                               "autoscaling")
        except sigv4_verify.Refusal as e:
            raise ApiError(e.status, e.code, e.message)
        self._rec.update(access_key=akid, signed_headers=signed)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--parent-pid", type=int)
    a = ap.parse_args()
    srv = peerserver.Server((a.host, a.port), Handler)
    srv.state = State(a.config)
    port = srv.server_address[1]
    peerserver.announce(a.port_file, "%d\n" % port, "PORT %d" % port)
    peerserver.exit_with_parent(a.parent_pid)
    return peerserver.serve_forever(srv)


if __name__ == "__main__":
    sys.exit(main())
