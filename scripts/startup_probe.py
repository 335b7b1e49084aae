#!/usr/bin/env python3
"""Spawns a server and times spawn -> first 200 of GET /health, then stays its parent until it exits.

Used by scripts/loadtest.sh for every server it starts:

    startup_probe.py --port P [--host H] [--timeout S] --result FILE -- COMMAND [ARGS...]

1. Checks that nothing answers on H:P yet (a busy port would make us time someone else's server).
2. t0 = time.monotonic(); spawns COMMAND (its stdout/stderr are this process's); polls H:P every ~1 ms
   with a raw socket: connect, `GET /health HTTP/1.1`, read the status line; a refused connection, a
   reset or a non-200 status means "not yet". t1 = time.monotonic() at the first 200.
3. Writes FILE atomically: {"pid": PID, "ms": (t1 - t0) * 1000, "polls": N} (or {"pid", "error"}).
4. Waits for the child, forwarding SIGTERM/SIGINT/SIGHUP to it, and exits with its status, so the caller
   can read /proc/PID (the real server: a launcher script that execs java keeps the PID) and stop the
   server by its PID, and this process reaps it.
Python standard library only.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time


def health_status(host, port, timeout):
    """The status code of GET /health, or None when the server does not answer (yet)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(f"GET /health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
            parts = data.split(b" ", 2)
            if len(parts) >= 2 and parts[0].startswith(b"HTTP/"):
                return int(parts[1])
            return None
    except (OSError, ValueError):
        return None


def write_result(path, result):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the first 200")
    ap.add_argument("--interval", type=float, default=0.001, help="seconds between polls")
    ap.add_argument("--result", required=True)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        ap.error("no command")

    if health_status(a.host, a.port, 0.5) is not None:
        write_result(a.result, {"pid": None, "error": f"port {a.port} already answers: not ours"})
        return 3

    t0 = time.monotonic()
    child = subprocess.Popen(cmd)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: child.send_signal(s))

    polls, ms, error = 0, None, None
    deadline = t0 + a.timeout
    while True:
        polls += 1
        status = health_status(a.host, a.port, 5.0)
        if status == 200:
            ms = (time.monotonic() - t0) * 1000.0
            break
        if child.poll() is not None:
            error = f"the server exited with status {child.returncode} before answering /health"
            break
        if time.monotonic() > deadline:
            error = f"no 200 from /health within {a.timeout:.0f} s"
            break
        time.sleep(a.interval)
    if error is None and child.poll() is not None:
        error = "the server exited right after answering (the 200 may not be its own)"
    result = {"pid": child.pid, "ms": ms, "polls": polls}
    if error:
        result["error"] = error
    write_result(a.result, result)

    while True:
        try:
            code = child.wait()
            break
        except InterruptedError:
            continue
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
