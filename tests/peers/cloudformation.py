#!/usr/bin/env python3
"""Strict AWS CloudFormation emulator (SignalResource only) for
kong-bootstrap's tests.  moto has no SignalResource, so this is ours.

Needs botocore (the pyenv python3, like moto_server): every request's SigV4
signature is recomputed (sigv4_verify.py, shared with autoscaling.py).

Usage: cloudformation.py --config CONFIG.json [--host 127.0.0.1] [--port 0]
                         [--port-file PATH] [--parent-pid PID]

Like the real Query API endpoint (https://cloudformation.<region>.amazonaws.com):

* only ``POST /`` with ``Content-Type: application/x-www-form-urlencoded``
  and no query string (GET and others -> 405, another path -> 404);
* SigV4 as AWS checks it for the service ``cloudformation`` (sigv4_verify.py:
  InvalidClientTokenId, SignatureDoesNotMatch, a skewed clock refused with
  AWS's text and a Date header to correct it from, ...);
* ``Version`` must be ``2010-05-15`` and ``Action`` ``SignalResource``
  (anything else -> InvalidAction); its four parameters StackName,
  LogicalResourceId, UniqueId, Status are required (MissingParameter),
  nothing else is accepted (ValidationError); StackName must match the
  API's pattern ``([a-zA-Z][-a-zA-Z0-9]*)|(arn:(aws|aws-us-gov|aws-cn):
  [-a-zA-Z0-9:/._+]*)``, UniqueId be 1..64 characters, Status SUCCESS or
  FAILURE (else ValidationError, "1 validation error detected: …");
* IAM: actions listed in "deny" -> 403 AccessDenied, IAM's text;
* a stack is found by name or by its ARN (stack id); otherwise 400
  ValidationError "Stack with id <name> does not exist"; a resource not
  in it -> "Resource <id> does not exist for stack <name>" (the texts moto
  gives for the same lookups);
* a resource accepts signals while it waits for them (``count`` SUCCESS
  signals, as its CreationPolicy's ResourceSignal Count); once it has them
  all, or got a FAILURE, it is complete (CREATE_COMPLETE / CREATE_FAILED)
  and a further signal -> ValidationError "Resource <id> is in <STATE>
  state and cannot be signaled"; a stack whose "status" is not an
  *_IN_PROGRESS one -> "Stack <arn> is in <STATUS> state and cannot be
  signaled";
* success: ``<SignalResourceResponse xmlns=…><ResponseMetadata>
  <RequestId/></ResponseMetadata></SignalResourceResponse>``; errors as
  ``<ErrorResponse>`` like the other Query APIs.

The config file is re-read on every request.  Keys:

  region          (default us-east-1)
  credentials     list of {"AccessKeyId", "SecretAccessKey", "Token"}
  stacks          list of {"name", "id" (the stack ARN), "status"
                  (default CREATE_IN_PROGRESS), "resources": {LogicalId:
                  {"count": N (default 1)}}}
  deny            list of action names IAM refuses (AccessDenied)
  caller_arn      the assumed-role ARN named in that refusal
  nonce           any value; changing it forgets the signals received
  faults          list of {"status", "code", "message", "count"}: answered
                  after the signature check, instead of the real answer
  call_log        JSON-lines log, one record per request: time, method,
                  path, status, code, message, action, params,
                  access_key, signed_headers, content_type

Readiness: the port is written atomically to --port-file and printed as
``PORT <n>``; with --parent-pid the emulator exits when that process is gone.
"""
import argparse
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid

import peerserver
import sigv4_verify

XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
VERSION = "2010-05-15"
PARAMS = ("StackName", "LogicalResourceId", "UniqueId", "Status")
STACK_NAME = re.compile(r"^(([a-zA-Z][-a-zA-Z0-9]*)|(arn:\b(aws|aws-us-gov|aws-cn)\b:[-a-zA-Z0-9:/._+]*))$")


def xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class State:
    def __init__(self, config_path):
        self.config_path = config_path
        self.lock = threading.Lock()
        self.signals = {}       # (nonce, stack id, logical id) -> [(unique id, status)]
        self.fault_uses = {}

    def config(self):
        with open(self.config_path, encoding="utf-8") as f:
            return json.load(f)


class Handler(http.server.BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "Server"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

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
                    % (XMLNS, "Receiver" if e.status >= 500 else "Sender", xml_escape(e.code),
                       xml_escape(e.message), self._request_id))

    def _log(self):
        path = (self._cfg or {}).get("call_log")
        if path:
            with self.server.state.lock, open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(self._rec) + "\n")

    def _begin(self):
        self._request_id = str(uuid.uuid4())
        self._rec = {"time": time.time(), "method": self.command, "path": self.path, "status": None,
                     "code": None, "message": None, "action": None, "params": None, "access_key": None,
                     "signed_headers": None, "content_type": self.headers.get("Content-Type")}
        n = self.headers.get("Content-Length")
        try:
            body = self.rfile.read(int(n)) if n else b""
        except ValueError:
            body = b""
        try:
            self._cfg = self.server.state.config()
        except Exception as e:   # noqa
            self._cfg = {}
            self._error(ApiError(500, "InternalFailure", "emulator config unreadable: %s" % e))
            return None
        return body

    def _not_allowed(self):
        if self._begin() is not None:
            self._error(ApiError(405, "MethodNotAllowed", "The method %s is not allowed" % self.command))
        self._log()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed

    def do_POST(self):
        body = self._begin()
        if body is not None:
            try:
                self._handle(body)
            except ApiError as e:
                self._error(e)
        self._log()

    def _handle(self, body):
        split = urllib.parse.urlsplit(self.path)
        if split.path != "/":
            raise ApiError(404, "UnknownOperationException", "no such resource: %s" % split.path)
        if split.query:
            raise ApiError(400, "InvalidQueryParameter", "parameters belong in the body, not the query string")
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
        self._rec.update(params=params, action=params.get("Action"))

        try:
            akid, signed = sigv4_verify.verify(self.headers, self.command, self.path, body, self._cfg,
                                               "cloudformation")
        except sigv4_verify.Refusal as e:
            raise ApiError(e.status, e.code, e.message)
        self._rec.update(access_key=akid, signed_headers=signed)

        action = params.get("Action")
        if action != "SignalResource":
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, params.get("Version")))
        if params.get("Version") != VERSION:
            raise ApiError(400, "InvalidParameterValue", "Version must be %s, got %r"
                           % (VERSION, params.get("Version")))
        if action in (self._cfg.get("deny") or []):
            arn = self._cfg.get("caller_arn") or "arn:aws:sts::123456789012:assumed-role/kong-node/i-0"
            raise ApiError(403, "AccessDenied",
                           "User: %s is not authorized to perform: cloudformation:%s on resource: "
                           "arn:aws:cloudformation:%s:123456789012:stack/%s/* because no identity-based "
                           "policy allows the cloudformation:%s action"
                           % (arn, action, self._cfg.get("region", "us-east-1"),
                              params.get("StackName", ""), action))
        for i, f in enumerate(self._cfg.get("faults") or []):
            key = (json.dumps(self._cfg.get("nonce")), i)
            with self.server.state.lock:
                used = self.server.state.fault_uses.get(key, 0)
                if f.get("count") is not None and used >= f["count"]:
                    continue
                self.server.state.fault_uses[key] = used + 1
            raise ApiError(int(f["status"]), f.get("code", "InternalFailure"), f.get("message", "fault injected"))

        for k in params:
            if k not in ("Action", "Version") + PARAMS:
                raise ApiError(400, "ValidationError", "Unknown parameter %s for %s" % (k, action))
        for k in PARAMS:
            if not params.get(k):
                raise ApiError(400, "MissingParameter", "The request must contain the parameter %s" % k)
        if not STACK_NAME.match(params["StackName"]):
            raise ApiError(400, "ValidationError",
                           "1 validation error detected: Value '%s' at 'stackName' failed to satisfy constraint: "
                           "Member must satisfy regular expression pattern: ([a-zA-Z][-a-zA-Z0-9]*)|"
                           "(arn:\\b(aws|aws-us-gov|aws-cn)\\b:[-a-zA-Z0-9:/._+]*)" % params["StackName"])
        if len(params["UniqueId"]) > 64:
            raise ApiError(400, "ValidationError",
                           "1 validation error detected: Value '%s' at 'uniqueId' failed to satisfy constraint: "
                           "Member must have length less than or equal to 64" % params["UniqueId"])
        if params["Status"] not in ("SUCCESS", "FAILURE"):
            raise ApiError(400, "ValidationError",
                           "1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: "
                           "Member must satisfy enum value set: [SUCCESS, FAILURE]" % params["Status"])

        name, logical = params["StackName"], params["LogicalResourceId"]
        stack = next((s for s in self._cfg.get("stacks") or [] if name in (s["name"], s.get("id"))), None)
        if stack is None:
            raise ApiError(400, "ValidationError", "Stack with id %s does not exist" % name)
        status = stack.get("status", "CREATE_IN_PROGRESS")
        if not status.endswith("_IN_PROGRESS"):
            raise ApiError(400, "ValidationError", "Stack %s is in %s state and cannot be signaled"
                           % (stack.get("id", name), status))
        res = (stack.get("resources") or {}).get(logical)
        if res is None:
            raise ApiError(400, "ValidationError", "Resource %s does not exist for stack %s" % (logical, name))
        verb = status.split("_", 1)[0]       # CREATE or UPDATE
        key = (json.dumps(self._cfg.get("nonce")), stack.get("id", name), logical)
        with self.server.state.lock:
            got = self.server.state.signals.setdefault(key, [])
            failed = any(s == "FAILURE" for _, s in got)
            done = sum(1 for _, s in got if s == "SUCCESS") >= int(res.get("count", 1))
            if failed or done:
                raise ApiError(400, "ValidationError", "Resource %s is in %s state and cannot be signaled"
                               % (logical, "%s_%s" % (verb, "FAILED" if failed else "COMPLETE")))
            got.append((params["UniqueId"], params["Status"]))
        self._rec.update(status=200)
        self._reply(200, '<SignalResourceResponse xmlns="%s">\n  <ResponseMetadata>\n'
                    '    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</SignalResourceResponse>\n'
                    % (XMLNS, self._request_id))


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
