#!/usr/bin/python3
"""Strict IMDSv2 emulator for kong-bootstrap's tests (Debian /usr/bin/python3, stdlib only).

Usage: imds.py --config CONFIG.json [--host 127.0.0.1] [--port 0] [--port-file PATH]

Behaves like the real EC2 instance metadata service with IMDSv2 required
(HttpTokens=required):

* ``PUT /latest/api/token`` needs ``X-aws-ec2-metadata-token-ttl-seconds``
  = integer 1..21600, else 400.  A PUT carrying ``X-Forwarded-For`` -> 403.
  PUT anywhere else -> 405.  GET on /latest/api/token -> 405.
* every GET needs a valid, unexpired ``X-aws-ec2-metadata-token``, else 401
  (so IMDSv1 requests get 401).
* unknown path -> 404; other methods -> 405.

The config file is re-read on every request, so a test can change it while
the emulator runs (rotate credentials, disable IMDS, inject faults).  Keys:

  region, availability_zone, instance_id, mac, vpc_cidrs (list),
  role (str or null), credentials (dict AccessKeyId/SecretAccessKey/Token/
  Expiration, optional Code/LastUpdated/Type), tags (dict or null: null ->
  tags endpoint 404 as when InstanceMetadataTags is disabled),
  user_data (str or null -> 404), user_data_base64 (str: the raw bytes
  base64-encoded, as EC2's UserData attribute carries them, e.g. gzip;
  served decoded, as IMDS does; wins over user_data),
  spot_instance_action (str or null),
  lifecycle_state (str or null),
  disabled (bool: 403 on everything),
  token_ttl_override (int seconds or null: the TTL actually granted),
  credentials_sequence: list of credential dicts (as "credentials") served
               in turn by successive reads of the role's credentials; the
               last one repeats (wins over "credentials")
  faults: list of {"path": PREFIX ("/latest/..."), "status": CODE,
           "count": N (default unlimited), "method": "GET"|"PUT" (optional),
           "delay": SECONDS (optional, sleep before answering)}
          further keys of a fault:
           "exact": true          path must match exactly, not as a prefix
           "after"/"until": EPOCH only between these times (time.time())
           "probability": P       applies with probability P (0..1)
           "body": TEXT           body of the "status" answer
           "drop": true           close the connection without answering
           "reset": true          abort the connection (TCP RST), no answer
           "hang": SECONDS        read the request, answer nothing for
                                  SECONDS, then close (a PUT lost to the
                                  hop limit looks like this)
           "invalidate_tokens": true  every token issued so far becomes
                                  invalid (401), then the request is
                                  handled normally (token expiry mid-run)
          A fault with only "delay" delays and then answers normally.
  fault_nonce: any value; changing it restarts the fault counters and the
               credentials sequence (they also restart when faults or
               credentials_sequence change)
  invalidate_tokens_before: EPOCH  tokens issued before it are invalid
  request_log: path of a JSON-lines log (method, path, status, time,
               has_token, fault index if one applied, token_serial: which
               issued token the request carried, 1-based, or null);
               token values are never logged there.
  token_log: path of a JSON-lines log of the issued tokens (the *values*,
             with time and TTL), so that tests can grep the agent's output
             for them; keep it out of anything that is printed.

Readiness: once listening, the chosen port is written atomically to
--port-file (if given) and printed on stdout as ``PORT <n>``.
"""
import argparse
import base64
import http.server
import json
import random
import secrets
import socket
import struct
import sys
import threading
import time

import peerserver

MAX_TTL = 21600


class State:
    def __init__(self, config_path):
        self.config_path = config_path
        self.lock = threading.Lock()
        self.tokens = {}           # token -> expiry (monotonic)
        self.token_issued = {}     # token -> (issue time.time(), serial)
        self.fault_uses = {}       # (config generation, index in faults) -> times used
        self.cred_reads = {}       # config generation -> reads of the role's credentials
        self.generation = None

    def config(self):
        with open(self.config_path, encoding="utf-8") as f:
            raw = f.read()
        cfg = json.loads(raw)
        # fault counters and credential sequences restart whenever the
        # faults or the sequence change
        gen = json.dumps([cfg.get("faults"), cfg.get("credentials_sequence"),
                          cfg.get("fault_nonce")], sort_keys=True)
        with self.lock:
            if gen != self.generation:
                self.generation = gen
                self.fault_uses = {}
                self.cred_reads = {}
        return cfg


class Handler(http.server.BaseHTTPRequestHandler):
    # Headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms per reused connection).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "EC2ws"
    sys_version = ""

    # quiet: the request log is our log
    def log_message(self, fmt, *args):
        pass

    # ------------------------------------------------------------------
    def _send(self, status, body=b"", ctype="text/plain", extra=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(status)

    def _log(self, status):
        cfg = self._cfg or {}
        path = cfg.get("request_log")
        if not path:
            return
        token = self.headers.get("X-aws-ec2-metadata-token")
        with self.server.state.lock:
            issued = self.server.state.token_issued.get(token) if token else None
        rec = {"method": self.command, "path": self.path.split("?", 1)[0],
               "status": status, "time": time.time(),
               "has_token": bool(token),
               "token_serial": issued[1] if issued else None,
               "fault": getattr(self, "_fault_index", None),
               "client_port": self.client_address[1]}
        line = json.dumps(rec) + "\n"
        with self.server.state.lock:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)

    def _abort(self, status, rst):
        """Close the connection without an HTTP answer."""
        self.close_connection = True
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._log(status)

    def _fault(self):
        cfg = self._cfg
        path = self.path.split("?", 1)[0]
        now = time.time()
        for i, fault in enumerate(cfg.get("faults") or []):
            want = fault.get("path", "/")
            if fault.get("exact") and path != want:
                continue
            if not path.startswith(want):
                continue
            if fault.get("method") and fault["method"] != self.command:
                continue
            if fault.get("after") is not None and now < float(fault["after"]):
                continue
            if fault.get("until") is not None and now >= float(fault["until"]):
                continue
            if fault.get("probability") is not None and random.random() >= float(fault["probability"]):
                continue
            with self.server.state.lock:
                key = (self.server.state.generation, i)
                used = self.server.state.fault_uses.get(key, 0)
                count = fault.get("count")
                if count is not None and used >= count:
                    continue
                self.server.state.fault_uses[key] = used + 1
            self._fault_index = i
            if fault.get("invalidate_tokens"):
                with self.server.state.lock:
                    self.server.state.tokens.clear()
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault.get("hang"):
                time.sleep(float(fault["hang"]))
                self._abort("hang", rst=False)
                return True
            if fault.get("drop"):
                self._abort("drop", rst=False)
                return True
            if fault.get("reset"):
                self._abort("reset", rst=True)
                return True
            if fault.get("status"):
                self._send(int(fault["status"]), fault.get("body", "fault injected\n"))
                return True
            return False
        return False

    def _drain_body(self):
        n = self.headers.get("Content-Length")
        if n:
            try:
                self.rfile.read(int(n))
            except ValueError:
                pass

    def _prologue(self):
        self._cfg = None
        self._fault_index = None
        self._drain_body()
        try:
            self._cfg = self.server.state.config()
        except Exception as e:  # config unreadable: behave like a broken IMDS
            self._cfg = {}
            self._send(500, "config error: %s\n" % e)
            return False
        if self._cfg.get("disabled"):
            self._send(403, "Forbidden\n")
            return False
        if self._fault():
            return False
        return True

    # ------------------------------------------------------------------
    def do_PUT(self):
        if not self._prologue():
            return
        path = self.path.split("?", 1)[0]
        if path != "/latest/api/token":
            self._send(405, "Method Not Allowed\n")
            return
        if self.headers.get("X-Forwarded-For") is not None:
            self._send(403, "Forbidden\n")
            return
        raw = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl = int(raw.strip())
        except (AttributeError, ValueError):
            self._send(400, "Bad Request\n")
            return
        if ttl < 1 or ttl > MAX_TTL or raw.strip() != str(ttl):
            self._send(400, "Bad Request\n")
            return
        granted = self._cfg.get("token_ttl_override") or ttl
        token = "AQAEA" + secrets.token_urlsafe(40)
        with self.server.state.lock:
            self.server.state.tokens[token] = time.monotonic() + float(granted)
            serial = len(self.server.state.token_issued) + 1
            self.server.state.token_issued[token] = (time.time(), serial)
        tlog = self._cfg.get("token_log")
        if tlog:
            with self.server.state.lock:
                with open(tlog, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"token": token, "serial": serial, "time": time.time(),
                                        "ttl": int(granted)}) + "\n")
        self._send(200, token, extra={"X-aws-ec2-metadata-token-ttl-seconds": str(int(granted))})

    def _token_ok(self):
        token = self.headers.get("X-aws-ec2-metadata-token")
        if not token:
            return False
        with self.server.state.lock:
            exp = self.server.state.tokens.get(token)
            if exp is None:
                return False
            before = self._cfg.get("invalidate_tokens_before")
            issued = self.server.state.token_issued.get(token)
            if before is not None and issued and issued[0] < float(before):
                del self.server.state.tokens[token]
                return False
            if time.monotonic() >= exp:
                del self.server.state.tokens[token]
                return False
        return True

    def do_GET(self):
        if not self._prologue():
            return
        path = self.path.split("?", 1)[0]
        if path == "/latest/api/token":
            self._send(405, "Method Not Allowed\n")
            return
        if not self._token_ok():
            self._send(401, "Unauthorized\n")
            return
        body = self._lookup(path)
        if body is None:
            self._send(404, "Not Found\n")
            return
        if isinstance(body, bytes):
            ctype = "application/octet-stream"   # what IMDS says of user-data
        else:
            ctype = "application/json" if body.lstrip().startswith("{") else "text/plain"
        self._send(200, body, ctype=ctype)

    do_HEAD = do_GET

    def _not_allowed(self):
        self._cfg = None
        self._fault_index = None
        self._drain_body()
        try:
            self._cfg = self.server.state.config()
        except Exception:
            self._cfg = {}
        self._send(405, "Method Not Allowed\n")

    do_POST = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    # ------------------------------------------------------------------
    def _lookup(self, path):
        cfg = self._cfg
        if not path.startswith("/latest/"):
            return None
        rel = path[len("/latest/"):]
        if rel == "user-data":
            if cfg.get("user_data_base64") is not None:
                return base64.b64decode(cfg["user_data_base64"])
            return cfg.get("user_data")
        if rel == "dynamic/instance-identity/document":
            return json.dumps({
                "accountId": cfg.get("account_id", "123456789012"),
                "availabilityZone": cfg.get("availability_zone"),
                "instanceId": cfg.get("instance_id"),
                "region": cfg.get("region"),
                "instanceType": "m6i.large", "architecture": "x86_64",
                "privateIp": "10.0.1.23", "imageId": "ami-0123456789abcdef0",
                "pendingTime": "2024-01-01T00:00:00Z", "version": "2017-09-30",
            }, indent=2)
        if not rel.startswith("meta-data/"):
            return None
        md = rel[len("meta-data/"):]
        mac = cfg.get("mac", "0e:00:00:00:00:01")
        role = cfg.get("role")
        simple = {
            "placement/region": cfg.get("region"),
            "placement/availability-zone": cfg.get("availability_zone"),
            "instance-id": cfg.get("instance_id"),
            "mac": mac,
            "local-ipv4": cfg.get("local_ipv4", "10.0.1.23"),
            "network/interfaces/macs/%s/vpc-ipv4-cidr-blocks" % mac:
                "\n".join(cfg.get("vpc_cidrs") or []) or None,
            "network/interfaces/macs/%s/vpc-ipv4-cidr-block" % mac:
                (cfg.get("vpc_cidrs") or [None])[0],
            "spot/instance-action": cfg.get("spot_instance_action"),
            "autoscaling/target-lifecycle-state": cfg.get("lifecycle_state"),
        }
        if md in simple:
            return simple[md]
        if md in ("", "/"):
            return "ami-id\nautoscaling/\niam/\ninstance-id\nlocal-ipv4\nmac\nnetwork/\nplacement/\ntags/\n".rstrip()
        if md in ("iam/security-credentials", "iam/security-credentials/"):
            return role
        if role and md == "iam/security-credentials/" + role:
            creds = cfg.get("credentials")
            seq = cfg.get("credentials_sequence")
            if seq:
                with self.server.state.lock:
                    gen = self.server.state.generation
                    n = self.server.state.cred_reads.get(gen, 0)
                    self.server.state.cred_reads[gen] = n + 1
                creds = seq[min(n, len(seq) - 1)]
            if creds is None:
                return None
            doc = {
                "Code": creds.get("Code", "Success"),
                "LastUpdated": creds.get("LastUpdated", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                "Type": creds.get("Type", "AWS-HMAC"),
                "AccessKeyId": creds.get("AccessKeyId"),
                "SecretAccessKey": creds.get("SecretAccessKey"),
                "Token": creds.get("Token"),
                "Expiration": creds.get("Expiration"),
            }
            return json.dumps(doc, indent=2)
        tags = cfg.get("tags")
        if md.startswith("tags/instance"):
            if tags is None:
                return None
            rest = md[len("tags/instance"):]
            if rest in ("", "/"):
                return "\n".join(sorted(tags))
            key = rest[1:]
            return tags.get(key)
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    srv = peerserver.server_for(a.host)((a.host, a.port), Handler)
    srv.state = State(a.config)
    port = srv.server_address[1]
    peerserver.announce(a.port_file, "%d\n" % port, "PORT %d" % port)
    return peerserver.serve_forever(srv)


if __name__ == "__main__":
    sys.exit(main())
