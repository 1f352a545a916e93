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
import json
import re
import sys

import query_api
from query_api import ApiError

XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
VERSION = "2010-05-15"
PARAMS = ("StackName", "LogicalResourceId", "UniqueId", "Status")
STACK_NAME = re.compile(r"^(([a-zA-Z][-a-zA-Z0-9]*)|(arn:\b(aws|aws-us-gov|aws-cn)\b:[-a-zA-Z0-9:/._+]*))$")


class State(query_api.State):
    def __init__(self, config_path):
        super().__init__(config_path)
        self.signals = {}       # (nonce, stack id, logical id) -> [(unique id, status)]


class Handler(query_api.QueryHandler):
    SERVICE = "cloudformation"
    XMLNS = XMLNS

    def _action(self, params):
        action = params.get("Action")
        if action != "SignalResource":
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, params.get("Version")))
        if params.get("Version") != VERSION:
            raise ApiError(400, "InvalidParameterValue", "Version must be %s, got %r"
                           % (VERSION, params.get("Version")))
        self._authorize(action, "arn:aws:cloudformation:%s:123456789012:stack/%s/*"
                        % (self._cfg.get("region", "us-east-1"), params.get("StackName", "")))
        self._inject_faults(action)

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
        self._reply_ok('<SignalResourceResponse xmlns="%s">\n  <ResponseMetadata>\n'
                    '    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</SignalResourceResponse>\n'
                    % (XMLNS, self._request_id))


if __name__ == "__main__":
    sys.exit(query_api.main(Handler, State))
