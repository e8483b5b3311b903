#!/usr/bin/env python3
"""Hostile HTTP clients for tests/e2e/hostile/run. Each prints one JSON line describing what the
server did, and exits 0 (the scenario decides what is acceptable).

    attack.py slowloris HOST PORT --conns N --seconds S
        N connections each send one byte of a request header per second for up to S seconds.
        Reports how many the server closed, and after how long at most.
    attack.py slowbody HOST PORT --conns N --seconds S
        N connections each send whole headers of a POST declaring a 1 MB body, then one byte of
        the body per second for up to S seconds. Reports like slowloris.
    attack.py idle HOST PORT --conns N --seconds S
        N connections that connect and send nothing, held S seconds.
    attack.py raw HOST PORT --data-file FILE [--timeout T]
        Sends FILE's bytes as they are and reports the response's status line and body head.
    attack.py bigbody HOST PORT PATH --declared BYTES --send BYTES [--header H]...
        A POST declaring Content-Length BYTES and sending --send bytes of junk; reports the status.
"""

import argparse
import json
import socket
import sys
import time


def connect(host, port):
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_by_peer(sock):
    """True when the server has closed the connection (EOF or reset)."""
    sock.setblocking(False)
    try:
        data = sock.recv(4096)
        return len(data) == 0 or b"HTTP/1.1" in data
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def slowloris(args, preamble=b"", header=None):
    header = header or b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 4096
    socks, opened_at = [], []
    for _ in range(args.conns):
        socks.append(connect(args.host, args.port))
        if preamble:
            socks[-1].sendall(preamble)
        opened_at.append(time.monotonic())
    closed_after = {}
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < args.seconds and len(closed_after) < len(socks):
        for n, s in enumerate(socks):
            if n in closed_after:
                continue
            try:
                s.send(header[i:i + 1])
            except OSError:
                closed_after[n] = time.monotonic() - opened_at[n]
                continue
            if closed_by_peer(s):
                closed_after[n] = time.monotonic() - opened_at[n]
        i = (i + 1) % len(header)
        time.sleep(1)
    for s in socks:
        s.close()
    print(json.dumps({"conns": len(socks), "closed_by_server": len(closed_after),
                      "max_seconds_open": round(max(closed_after.values(), default=0), 1)}))


def slowbody(args):
    preamble = (b"POST /api/workers/heartbeat HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
    slowloris(args, preamble=preamble, header=b"[" * 1000000)


def idle(args):
    socks = [connect(args.host, args.port) for _ in range(args.conns)]
    time.sleep(args.seconds)
    still_open = sum(1 for s in socks if not closed_by_peer(s))
    for s in socks:
        s.close()
    print(json.dumps({"conns": len(socks), "still_open": still_open}))


def read_response(sock, timeout):
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < 200:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    return status, body[:300].decode("utf-8", "replace")


def raw(args):
    with open(args.data_file, "rb") as f:
        payload = f.read()
    s = connect(args.host, args.port)
    try:
        s.sendall(payload)
    except OSError:
        pass
    status, body = read_response(s, args.timeout)
    s.close()
    print(json.dumps({"status": status, "body": body}))


def bigbody(args):
    s = connect(args.host, args.port)
    head = f"POST {args.path} HTTP/1.1\r\nHost: x\r\nContent-Length: {args.declared}\r\n"
    for h in args.header or []:
        head += h + "\r\n"
    s.sendall((head + "\r\n").encode())
    sent = 0
    chunk = b"j" * 65536
    try:
        while sent < args.send:
            s.sendall(chunk[:min(len(chunk), args.send - sent)])
            sent += min(len(chunk), args.send - sent)
    except OSError:
        pass
    status, body = read_response(s, 10)
    s.close()
    print(json.dumps({"status": status, "body": body, "sent": sent}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("slowloris", "slowbody", "idle"):
        c = sub.add_parser(name)
        c.add_argument("host")
        c.add_argument("port", type=int)
        c.add_argument("--conns", type=int, default=100)
        c.add_argument("--seconds", type=float, default=15)
    c = sub.add_parser("raw")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--data-file", required=True)
    c.add_argument("--timeout", type=float, default=10)
    c = sub.add_parser("bigbody")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("path")
    c.add_argument("--declared", type=int, required=True)
    c.add_argument("--send", type=int, required=True)
    c.add_argument("--header", action="append")
    args = p.parse_args()
    {"slowloris": slowloris, "slowbody": slowbody, "idle": idle, "raw": raw, "bigbody": bigbody}[args.cmd](args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
