#!/usr/bin/env python3
"""Strict Amazon EC2 Auto Scaling emulator (lifecycle hooks, DescribeAutoScalingGroups) for
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
  5 minutes of now (aws_clock.py); ``X-Amz-Content-SHA256``, when sent, must be the
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
  ``DescribeAutoScalingGroups`` (AutoScalingGroupNames.member.N, MaxRecords,
  NextToken; the groups of the config's ``groups``, with their instances,
  in AWS's XML, in the order asked; an unknown name is simply not in the
  answer, as with AWS; more names than MaxRecords (default 50, at most 100)
  -> ValidationError "The number of group names that may be passed in is
  limited to 50", AWS's text; a name outside 1-255 characters ->
  ValidationError; more groups than MaxRecords -> a page and a NextToken,
  valid only for the same names, else InvalidNextToken);
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
  groups          {name: [{"InstanceId", "LifecycleState" (default InService),
                  "AvailabilityZone" (default <region>a)}, ...]} for
                  DescribeAutoScalingGroups
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
import json
import re
import sys
import zlib


import query_api
from query_api import ApiError, xml_escape

XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
VERSION = "2011-01-01"
ACTIONS = {
    "CompleteLifecycleAction": {"required": ["AutoScalingGroupName", "LifecycleHookName",
                                             "LifecycleActionResult"],
                                "optional": ["InstanceId", "LifecycleActionToken"]},
    "RecordLifecycleActionHeartbeat": {"required": ["AutoScalingGroupName", "LifecycleHookName"],
                                       "optional": ["InstanceId", "LifecycleActionToken"]},
    "DescribeAutoScalingGroups": {"required": [], "optional": ["MaxRecords", "NextToken", "Filters"]},
}
GROUP_NAMES = re.compile(r"^AutoScalingGroupNames\.member\.([1-9][0-9]*)$")
class State(query_api.State):
    def __init__(self, config_path):
        super().__init__(config_path)
        self.completed = set()      # (nonce, group, hook, instance)


class Handler(query_api.QueryHandler):
    SERVICE = "autoscaling"
    XMLNS = XMLNS

    def _action(self, params):
        action = params.get("Action")
        if not action:
            raise ApiError(400, "MissingAction", "Missing Action")
        if action not in ACTIONS:
            raise ApiError(400, "InvalidAction", "Could not find operation %s for version %s"
                           % (action, params.get("Version")))
        if params.get("Version") != VERSION:
            raise ApiError(400, "InvalidParameterValue", "Version must be %s, got %r"
                           % (VERSION, params.get("Version")))

        self._authorize(action, "arn:aws:autoscaling:%s:123456789012:autoScalingGroup:*:autoScalingGroupName/%s"
                        % (self._cfg.get("region", "us-east-1"), params.get("AutoScalingGroupName", "")))
        self._inject_faults(action)

        spec = ACTIONS[action]
        allowed = {"Action", "Version"} | set(spec["required"]) | set(spec["optional"])
        if action == "DescribeAutoScalingGroups":
            self._describe(params, allowed)
            return
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
    def _describe(self, params, allowed):
        names = {}
        for k, v in params.items():
            m = GROUP_NAMES.match(k)
            if m:
                names[int(m.group(1))] = v
            elif k not in allowed:
                raise ApiError(400, "ValidationError", "Unknown parameter %s for DescribeAutoScalingGroups" % k)
        if names and sorted(names) != list(range(1, len(names) + 1)):
            raise ApiError(400, "ValidationError", "AutoScalingGroupNames members must be numbered from 1")
        max_records = params.get("MaxRecords", "50")
        if not re.fullmatch(r"[0-9]{1,3}", max_records) or not 1 <= int(max_records) <= 100:
            raise ApiError(400, "ValidationError",
                           "1 validation error detected: Value '%s' at 'maxRecords' failed to satisfy constraint: "
                           "Member must have value between 1 and 100" % max_records)
        max_records = int(max_records)
        if len(names) > max_records:
            raise ApiError(400, "ValidationError",
                           "The number of group names that may be passed in is limited to %d" % max_records)
        for i in sorted(names):
            if not 1 <= len(names[i]) <= 255:
                raise ApiError(400, "ValidationError",
                               "1 validation error detected: Value '%s' at 'autoScalingGroupNames.%d.member' failed "
                               "to satisfy constraint: Member must have length between 1 and 255" % (names[i], i))
        groups = self._cfg.get("groups") or {}
        wanted = [names[i] for i in sorted(names)] if names else sorted(groups)
        found = [n for n in wanted if n in groups]     # AWS: unknown names are left out, no error
        # pages: NextToken is the offset, bound to the names asked
        key = "|".join(wanted)
        start = 0
        if params.get("NextToken"):
            m = re.fullmatch(r"([0-9]+)\.([0-9a-f]{8})", params["NextToken"])
            if not m or m.group(2) != "%08x" % (zlib.crc32(key.encode()) & 0xffffffff) \
                    or int(m.group(1)) >= len(found):
                raise ApiError(400, "InvalidNextToken", "The token '%s' is invalid." % params["NextToken"])
            start = int(m.group(1))
        page = found[start:start + max_records]
        next_token = None
        if start + max_records < len(found):
            next_token = "%d.%08x" % (start + max_records, zlib.crc32(key.encode()) & 0xffffffff)
        wanted = page
        region = self._cfg.get("region", "us-east-1")
        out = []
        for name in wanted:
            inst = []
            for i in groups[name]:
                inst.append("          <member>\n"
                            "            <HealthStatus>Healthy</HealthStatus>\n"
                            "            <AvailabilityZone>%s</AvailabilityZone>\n"
                            "            <InstanceId>%s</InstanceId>\n"
                            "            <InstanceType>t3.small</InstanceType>\n"
                            "            <LaunchTemplate>\n"
                            "              <LaunchTemplateName>kong</LaunchTemplateName>\n"
                            "              <Version>1</Version>\n"
                            "            </LaunchTemplate>\n"
                            "            <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
                            "            <LifecycleState>%s</LifecycleState>\n"
                            "          </member>\n"
                            % (xml_escape(i.get("AvailabilityZone") or region + "a"), xml_escape(i["InstanceId"]),
                               xml_escape(i.get("LifecycleState") or "InService")))
            out.append("      <member>\n"
                       "        <AutoScalingGroupName>%s</AutoScalingGroupName>\n"
                       "        <AutoScalingGroupARN>arn:aws:autoscaling:%s:123456789012:autoScalingGroup:"
                       "00000000-0000-0000-0000-000000000000:autoScalingGroupName/%s</AutoScalingGroupARN>\n"
                       "        <AvailabilityZones>\n          <member>%sa</member>\n        </AvailabilityZones>\n"
                       "        <MinSize>0</MinSize>\n        <MaxSize>20</MaxSize>\n"
                       "        <DesiredCapacity>%d</DesiredCapacity>\n"
                       "        <Instances>\n%s        </Instances>\n"
                       "        <HealthCheckType>ELB</HealthCheckType>\n"
                       "      </member>\n"
                       % (xml_escape(name), region, xml_escape(name), region, len(inst), "".join(inst)))
        self._rec.update(status=200)
        self._reply(200, '<DescribeAutoScalingGroupsResponse xmlns="%s">\n'
                    '  <DescribeAutoScalingGroupsResult>\n    <AutoScalingGroups>\n%s    </AutoScalingGroups>\n%s'
                    '  </DescribeAutoScalingGroupsResult>\n  <ResponseMetadata>\n'
                    '    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n</DescribeAutoScalingGroupsResponse>\n'
                    % (XMLNS, "".join(out),
                       "    <NextToken>%s</NextToken>\n" % next_token if next_token else "",
                       self._request_id))


if __name__ == "__main__":
    sys.exit(query_api.main(Handler, State))
