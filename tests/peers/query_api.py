"""What the strict AWS Query API emulators (autoscaling.py, cloudformation.py)
share: AWS's request checks before any action is looked at, its XML error
envelope, the JSON-lines call log, IAM denials, injected faults, and main().

Like a real Query API endpoint: only ``POST /`` with ``Content-Type:
application/x-www-form-urlencoded`` (parameters such as ``; charset=utf-8``
allowed) and no query string (GET/other methods -> 405, another path ->
404, a query string or a bad body -> 400); a parameter given twice ->
ValidationError; the SigV4 signature re-computed with botocore
(sigv4_verify.py, which also refuses a clock more than 5 minutes off with
AWS's text and a Date header).  Needs botocore (the pyenv python3).
"""
import argparse
import http.server
import json
import threading
import time
import urllib.parse
import uuid

import peerserver
import sigv4_verify


def xml_escape(s):
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


class ApiError(Exception):
    def __init__(self, status, code, message, type_=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.type = type_ or ("Receiver" if status >= 500 else "Sender")


class State:
    def __init__(self, config_path):
        self.config_path = config_path
        self.lock = threading.Lock()
        self.fault_uses = {}        # (nonce, index) -> uses

    def config(self):
        with open(self.config_path, encoding="utf-8") as f:
            return json.load(f)


class QueryHandler(http.server.BaseHTTPRequestHandler):
    """Subclasses set SERVICE and XMLNS and implement _action(params)."""
    SERVICE = None
    XMLNS = None
    # Headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms per reused connection).
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

    def _reply_ok(self, body):
        self._rec.update(status=200)
        self._reply(200, body)

    def _error(self, e):
        self._rec.update(status=e.status, code=e.code, message=e.message)
        self._reply(e.status, '<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n'
                    '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
                    '  <RequestId>%s</RequestId>\n</ErrorResponse>\n'
                    % (self.XMLNS, e.type, xml_escape(e.code), xml_escape(e.message), self._request_id))

    def _log(self):
        path = (self._cfg or {}).get("call_log")
        if not path:
            return
        line = json.dumps(self._rec) + "\n"
        with self.server.state.lock, open(path, "a", encoding="utf-8") as f:
            f.write(line)

    def _begin(self):
        self._request_id = str(uuid.uuid4())
        self._rec = {"time": time.time(), "method": self.command, "path": self.path, "status": None,
                     "code": None, "message": None, "action": None, "params": None, "access_key": None,
                     "signed_headers": None, "content_type": self.headers.get("Content-Type")}
        self._cfg = None
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
                self._action(self._form(body))
            except ApiError as e:
                self._error(e)
        self._log()

    def _form(self, body):
        """The request's parameters, once the request is one AWS would
        look at: the path, no query string, a form body, a valid signature."""
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
        self._rec.update(params=params, action=params.get("Action"))
        try:
            akid, signed = sigv4_verify.verify(self.headers, self.command, self.path, body, self._cfg,
                                               self.SERVICE)
        except sigv4_verify.Refusal as e:
            raise ApiError(e.status, e.code, e.message)
        self._rec.update(access_key=akid, signed_headers=signed)
        return params

    def _authorize(self, action, resource):
        """IAM: config "deny" lists the actions the role's policy does not
        allow (AWS authorizes before it looks at the parameters)."""
        if action in (self._cfg.get("deny") or []):
            arn = self._cfg.get("caller_arn") or "arn:aws:sts::123456789012:assumed-role/kong-node/i-0"
            raise ApiError(403, "AccessDenied",
                           "User: %s is not authorized to perform: %s:%s on resource: %s because no "
                           "identity-based policy allows the %s:%s action"
                           % (arn, self.SERVICE, action, resource, self.SERVICE, action))

    def _inject_faults(self, action):
        """Config "faults": {"action" (optional), "status", "code",
        "message", "count" (optional), "delay" (optional)}, answered after
        authentication instead of the real answer."""
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
                               f.get("message", "fault injected"))


def main(handler, state_class):
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--parent-pid", type=int)
    a = ap.parse_args()
    srv = peerserver.Server((a.host, a.port), handler)
    srv.state = state_class(a.config)
    port = srv.server_address[1]
    peerserver.announce(a.port_file, "%d\n" % port, "PORT %d" % port)
    peerserver.exit_with_parent(a.parent_pid)
    return peerserver.serve_forever(srv)
