"""What every HTTP peer of the test stack shares (stdlib only, so both
Pythons can import it: Debian's /usr/bin/python3 for imds.py and
faultproxy.py, the pyenv python3 for autoscaling.py)."""
import http.server
import os
import socket
import socketserver
import threading
import time


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class Server6(Server):
    """The same on IPv6 (IMDS's fd00:ec2::254 endpoint, tested on ::1)."""
    address_family = socket.AF_INET6


def server_for(host):
    return Server6 if ":" in host else Server


def announce(port_file, content, line):
    """Readiness: the port(s) written atomically to port_file (if given),
    and a line on stdout."""
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(content)
        os.rename(tmp, port_file)
    print(line, flush=True)


def exit_with_parent(parent_pid):
    """Exit when the harness that started us is gone, so a killed test run
    leaves no peer behind."""
    if not parent_pid:
        return

    def watch():
        while True:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
            time.sleep(1)
    threading.Thread(target=watch, daemon=True).start()


def serve_forever(srv):
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
