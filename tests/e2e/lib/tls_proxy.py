#!/usr/bin/env python3
"""A TLS-terminating reverse proxy for end-to-end tests, standing in for Caddy or nginx.

    tls_proxy.py --cert CERT.pem --key KEY.pem --upstream HOST:PORT [--port-file FILE]

Listens on 127.0.0.1 (a free port, written to --port-file atomically), completes a TLS handshake
with each client using CERT/KEY, then copies bytes both ways between the client and a new plain
TCP connection to HOST:PORT. A client that refuses the certificate simply disconnects. Runs until
killed.
"""

import argparse
import os
import socket
import ssl
import threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(raw, context, upstream):
    try:
        client = context.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    try:
        server = socket.create_connection(upstream)
    except OSError:
        client.close()
        return
    threading.Thread(target=pipe, args=(server, client), daemon=True).start()
    pipe(client, server)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    upstream = (host, int(port))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(listener.getsockname()[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        raw, _ = listener.accept()
        threading.Thread(target=handle, args=(raw, context, upstream), daemon=True).start()


if __name__ == "__main__":
    main()
