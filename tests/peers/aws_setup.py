#!/usr/bin/env python3
"""Seed a moto_server for kong-bootstrap's tests (pyenv python3 with boto3).

The harness (tests/stack.py) runs it with the python3 that can import boto3.
All secret material comes in as JSON on stdin, never on argv; results go out
as JSON on stdout.

  aws_setup.py --endpoint URL --region R init
      stdin: {"secret_name": "prod/kong/db", "secret_string": "<json>"}
      Makes exactly SETUP_CALLS unauthenticated calls (moto_server must run
      with INITIAL_NO_AUTH_ACTION_COUNT=SETUP_CALLS so that every later call
      is SigV4-checked and IAM-policy-checked):
        1 iam CreateRole kong-node (trust: ec2 + the account)
        2 iam PutRolePolicy  (secretsmanager:GetSecretValue, DescribeSecret)
        3 iam CreateUser test-admin
        4 iam PutUserPolicy  (everything; used by the harness afterwards)
        5 iam CreateAccessKey test-admin
        6 secretsmanager CreateSecret
        7 sts AssumeRole kong-node -> temporary credentials (ASIA...)
      stdout: {"role_credentials": {...}, "admin": {...}, "secret_arn": ...,
               "role_arn": ...}

  aws_setup.py --endpoint URL --region R put-secret-value
      stdin: {"admin": {...}, "secret_name": ..., "secret_string": ...}
      PutSecretValue (a new AWSCURRENT version), signed with the admin key.

  aws_setup.py --endpoint URL --region R create-secret
      stdin: {"admin": {...}, "secret_name": ..., "secret_string": ...}

  aws_setup.py --endpoint URL --region R get-secret
      stdin: {"credentials": {AccessKeyId, SecretAccessKey, Token?},
              "secret_name": ...}
      GetSecretValue with the given credentials; prints
      {"ok": bool, "error_code": ..., "http_status": ...} (never the value).

How moto 5 checks auth (moto/core/authorization.py,
moto/iam/access_control.py): every action handled by call_action() bumps a
process-wide counter until it reaches INITIAL_NO_AUTH_ACTION_COUNT; after
that each request's Authorization header is parsed, the access key is looked
up (AKIA... or no X-Amz-Security-Token -> IAM user key; otherwise an
assumed-role key whose session token must equal X-Amz-Security-Token), the
SigV4 signature is recomputed with botocore over the signed headers and
compared, and then the caller's policies (role inline + attached policies)
are evaluated for "<service>:<Action>".  Secrets Manager requests are
evaluated against resource "*" (only IAM, STS and SQS responses define
_determine_resource), so a statement whose Resource is the secret's ARN
would never match: the role policy therefore uses Resource "*" and limits
the *actions* instead.
"""
import argparse
import json
import sys

import boto3
import botocore.config
import botocore.exceptions

SETUP_CALLS = 7
ROLE = "kong-node"
ACCOUNT = "123456789012"


def client(service, args, creds=None):
    kw = dict(endpoint_url=args.endpoint, region_name=args.region,
              config=botocore.config.Config(retries={"max_attempts": 1}))
    if creds:
        kw.update(aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds.get("Token") or creds.get("SessionToken"))
    else:
        # unauthenticated phase: any key works, moto does not look
        kw.update(aws_access_key_id="AKIASETUPSETUPSETUP0", aws_secret_access_key="setup")
    return boto3.client(service, **kw)


def init(args, req):
    iam = client("iam", args)
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com", "AWS": "arn:aws:iam::%s:root" % ACCOUNT},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))  # 1
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": "*"}]}
    iam.put_role_policy(RoleName=ROLE, PolicyName="kong-node-secret",
                        PolicyDocument=json.dumps(policy))  # 2
    iam.create_user(UserName="test-admin")  # 3
    admin_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="test-admin", PolicyName="admin",
                        PolicyDocument=json.dumps(admin_policy))  # 4
    key = iam.create_access_key(UserName="test-admin")["AccessKey"]  # 5
    sm = client("secretsmanager", args)
    sec = sm.create_secret(Name=req["secret_name"], SecretString=req["secret_string"])  # 6
    sts = client("sts", args)
    c = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="i-0123456789abcdef0",
                        DurationSeconds=43200)["Credentials"]  # 7
    return {
        "role_arn": role["Role"]["Arn"],
        "role_credentials": {
            "AccessKeyId": c["AccessKeyId"],
            "SecretAccessKey": c["SecretAccessKey"],
            "Token": c["SessionToken"],
            "Expiration": c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "admin": {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]},
        "secret_arn": sec["ARN"],
    }


def put_secret_value(args, req):
    sm = client("secretsmanager", args, req["admin"])
    r = sm.put_secret_value(SecretId=req["secret_name"], SecretString=req["secret_string"])
    return {"version_id": r["VersionId"], "arn": r["ARN"]}


def create_secret(args, req):
    sm = client("secretsmanager", args, req["admin"])
    r = sm.create_secret(Name=req["secret_name"], SecretString=req["secret_string"])
    return {"arn": r["ARN"], "version_id": r.get("VersionId")}


def get_secret(args, req):
    sm = client("secretsmanager", args, req["credentials"])
    try:
        sm.get_secret_value(SecretId=req["secret_name"])
        return {"ok": True, "error_code": None, "http_status": 200}
    except botocore.exceptions.ClientError as e:
        return {"ok": False, "error_code": e.response.get("Error", {}).get("Code"),
                "http_status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("command", choices=["init", "put-secret-value", "create-secret", "get-secret"])
    args = ap.parse_args()
    req = json.load(sys.stdin)
    fn = {"init": init, "put-secret-value": put_secret_value,
          "create-secret": create_secret, "get-secret": get_secret}[args.command]
    json.dump(fn(args, req), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
