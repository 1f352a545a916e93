#!/usr/bin/python3
"""A TCP relay in front of PostgreSQL that can go mute, for kong-bootstrap's
lock-liveness tests (Debian /usr/bin/python3, stdlib only).

Usage: mute_relay.py --upstream-port PORT [--upstream-host HOST]
                     --port-file PATH [--parent-pid PID]

Listens on a free port (the relay) and on a second one (control); both go
to --port-file as JSON {"relay": P, "control": C} and on stdout as
``PORTS P C``.  Until told otherwise every connection is relayed both ways
unchanged.

Control: connect to the control port, send one line, read one line back:

  mute    the silent cut of a failing network: the server side of every
          relayed connection is closed (PostgreSQL sees the client go away,
          ends the session and releases its advisory locks, as a Multi-AZ
          failover does) while the client side stays open and silent: what
          the client sends is read and dropped (its kernel goes on
          acknowledging), nothing ever comes back, no FIN, no RST.  New
          connections are accepted and never answered the same way.
          Answers "ok N" (N connections cut).
  heal    new connections are relayed again (the ones cut stay mute).
          Answers "ok".
  count   "ok N": connections relayed so far.

--parent-pid PID: exit when that process is gone.
"""
import argparse
import json
import socket
import sys
import threading

import peerserver


class Relay:
    def __init__(self, upstream):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.muted = False
        self.pairs = []          # [client, server, {"mute": bool}]
        self.relayed = 0

    # ------------------------------------------------------------------
    @staticmethod
    def _sink(sock):
        """Read and drop until the peer closes: a mute, acknowledging end."""
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    def _client_to_server(self, pair):
        c, s, st = pair
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                if st["mute"]:
                    continue            # dropped
                try:
                    s.sendall(data)
                except OSError:
                    if not st["mute"]:
                        break
        except OSError:
            pass
        if not st["mute"]:
            for x in (s, c):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _server_to_client(self, pair):
        c, s, st = pair
        try:
            while True:
                data = s.recv(65536)
                if not data or st["mute"]:
                    break
                c.sendall(data)
        except OSError:
            pass
        if not st["mute"]:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle(self, c):
        with self.lock:
            muted = self.muted
        if muted:
            self._sink(c)
            return
        try:
            s = socket.create_connection(self.upstream, timeout=10)
            s.settimeout(None)
        except OSError:
            c.close()
            return
        pair = [c, s, {"mute": False}]
        with self.lock:
            self.pairs.append(pair)
            self.relayed += 1
        threading.Thread(target=self._server_to_client, args=(pair,), daemon=True).start()
        self._client_to_server(pair)

    # ------------------------------------------------------------------
    def mute(self):
        with self.lock:
            self.muted = True
            pairs, self.pairs = self.pairs, []
        n = 0
        for c, s, st in pairs:
            st["mute"] = True
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
                n += 1
            except OSError:
                pass
        return n

    def heal(self):
        with self.lock:
            self.muted = False


def serve_control(relay, sock):
    while True:
        conn, _ = sock.accept()
        with conn:
            f = conn.makefile("rw")
            cmd = (f.readline() or "").strip()
            if cmd == "mute":
                f.write("ok %d\n" % relay.mute())
            elif cmd == "heal":
                relay.heal()
                f.write("ok\n")
            elif cmd == "count":
                with relay.lock:
                    f.write("ok %d\n" % relay.relayed)
            else:
                f.write("error unknown command %r\n" % cmd)
            f.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream-port", type=int, required=True)
    ap.add_argument("--upstream-host", default="127.0.0.1")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file")
    ap.add_argument("--parent-pid", type=int)
    a = ap.parse_args()
    relay = Relay((a.upstream_host, a.upstream_port))
    lsock = socket.create_server((a.host, 0), backlog=128)
    csock = socket.create_server((a.host, 0), backlog=16)
    ports = {"relay": lsock.getsockname()[1], "control": csock.getsockname()[1]}
    threading.Thread(target=serve_control, args=(relay, csock), daemon=True).start()
    peerserver.exit_with_parent(a.parent_pid)
    peerserver.announce(a.port_file, json.dumps(ports), "PORTS %d %d" % (ports["relay"], ports["control"]))
    try:
        while True:
            c, _ = lsock.accept()
            threading.Thread(target=relay.handle, args=(c,), daemon=True).start()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
