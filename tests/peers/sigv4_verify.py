"""AWS's check of a SigV4-signed request, shared by the Query API
emulators (autoscaling.py, cloudformation.py): the signature recomputed with
botocore's SigV4Auth from the request as received, and AWS's refusals.

Needs botocore (the pyenv python3, like moto_server).

    verify(headers, method, path, body, cfg, service)

headers: the request's http.client.HTTPMessage (get / get_all); cfg: the
emulator's config ("credentials": [{"AccessKeyId", "SecretAccessKey",
"Token"}], "region"); service: the signing name ("autoscaling",
"cloudformation").  Returns (access_key_id, signed_headers) or raises
Refusal(status, code, message), the error AWS answers:

* missing/malformed Authorization -> MissingAuthenticationToken (403) /
  IncompleteSignature (400); ``host`` and ``x-amz-date`` must be signed and
  SignedHeaders sorted; X-Amz-Date well-formed;
* unknown access key, or a missing or wrong X-Amz-Security-Token for a key
  that has one (or one sent for a key without) -> InvalidClientTokenId;
* scope: service, region (the configured one) and date (X-Amz-Date's) ->
  SignatureDoesNotMatch with AWS's texts;
* X-Amz-Date more than 5 minutes from now -> SignatureDoesNotMatch with
  AWS's "Signature expired" / "not yet current" text (aws_clock.py);
* X-Amz-Content-SHA256, when sent, must be the body's hash
  (XAmzContentSHA256Mismatch, 400);
* the signature itself -> SignatureDoesNotMatch with the canonical request
  and string to sign, as AWS shows them.
"""
import hashlib
import hmac
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from aws_clock import skew_error


class Refusal(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def verify(headers, method, path, body, cfg, service):
    auth = headers.get("Authorization")
    if not auth:
        raise Refusal(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise Refusal(400, "IncompleteSignature", "Unsupported authorization scheme")
    fields = {}
    for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        if "=" not in part:
            raise Refusal(400, "IncompleteSignature", "Authorization header malformed: %r" % part)
        k, v = part.strip().split("=", 1)
        fields[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if k not in fields:
            raise Refusal(400, "IncompleteSignature", "Authorization header requires '%s' parameter" % k)
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise Refusal(400, "IncompleteSignature", "Credential scope malformed: %s" % fields["Credential"])
    akid, date, region, scope_service, _ = scope
    signed = fields["SignedHeaders"].split(";")
    if signed != sorted(signed) or "host" not in signed or "x-amz-date" not in signed:
        raise Refusal(400, "IncompleteSignature",
                      "SignedHeaders must be sorted and include host and x-amz-date: %s" % fields["SignedHeaders"])
    amz_date = headers.get("X-Amz-Date") or ""
    try:
        time.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise Refusal(400, "IncompleteSignature", "X-Amz-Date missing or malformed: %r" % amz_date)

    creds = {c["AccessKeyId"]: c for c in (cfg.get("credentials") or [])}
    cred = creds.get(akid)
    invalid = Refusal(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
    if cred is None:
        raise invalid
    token = headers.get("X-Amz-Security-Token")
    if cred.get("Token") and token != cred["Token"]:
        raise invalid
    if not cred.get("Token") and token:
        raise invalid

    want_region = cfg.get("region", "us-east-1")
    if scope_service != service:
        raise Refusal(403, "SignatureDoesNotMatch",
                      "Credential should be scoped to correct service: '%s'. " % service)
    if region != want_region:
        raise Refusal(403, "SignatureDoesNotMatch",
                      "Credential should be scoped to a valid region, not '%s'. " % region)
    if date != amz_date[:8]:
        raise Refusal(403, "SignatureDoesNotMatch",
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                      "HTTP: '%s' != '%s', from '%s'." % (date, amz_date[:8], amz_date))
    skew = skew_error(amz_date)
    if skew:
        raise Refusal(403, "SignatureDoesNotMatch", skew)
    sha = headers.get("X-Amz-Content-SHA256")
    if sha is not None and sha != hashlib.sha256(body).hexdigest():
        raise Refusal(400, "XAmzContentSHA256Mismatch",
                      "The provided 'x-amz-content-sha256' header does not match what was computed.")

    # rebuild the request as received: exactly the signed headers
    signed_values = {}
    for h in signed:
        values = headers.get_all(h)
        if values is None:
            raise Refusal(403, "SignatureDoesNotMatch", "Signed header %s missing from the request" % h)
        signed_values[h] = ",".join(v.strip() for v in values)
    req = AWSRequest(method=method, url="http://%s%s" % (signed_values["host"], path),
                     headers=signed_values, data=body)
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(akid, cred["SecretAccessKey"], cred.get("Token")), service, region)
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    expected = signer.signature(sts, req)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise Refusal(403, "SignatureDoesNotMatch",
                      "The request signature we calculated does not match the signature you provided. "
                      "Check your AWS Secret Access Key and signing method. Consult the service "
                      "documentation for details.\n\nThe Canonical String for this request should have "
                      "been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n" % (canonical, sts))
    return akid, signed
