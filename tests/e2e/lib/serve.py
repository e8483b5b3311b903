#!/usr/bin/env python3
"""A tiny static HTTP server for end-to-end tests, with byte-range support.

    serve.py DIR [--port N] [--port-file FILE] [--quiet]
    serve.py --dir DIR [--port N] [--port-file FILE] [--quiet]

Serves DIR on 127.0.0.1 only. With --port 0 (the default) the OS picks a free port; the chosen
port is printed on stdout as "PORT\n" and, with --port-file, written to FILE atomically (written
to FILE.tmp, then renamed), so a test can wait for the file to appear.

Python's SimpleHTTPRequestHandler ignores Range; this one honours a single range
("bytes=A-B", "bytes=A-", "bytes=-N") with 206 and Content-Range, answers 416 when the range
starts past the end (an empty file has no satisfiable range), and serves the whole file (200)
for multiple or malformed ranges, as RFC 9110 allows. Every file response says
"Accept-Ranges: bytes". Runs until killed (SIGTERM/SIGINT).

Transient failures on demand: "/flaky/N/FILE" answers 503 to the first N requests for that path,
then serves FILE, so tests can watch a download being retried.

A lying origin: "/lie/FILE" answers a request without Range with a Content-Length twice FILE's
size, sends FILE whole and closes the connection; ranged requests are served as for FILE (so a
resume from FILE's end gets 416 with "bytes */SIZE").

A live stream: "/live/FILE" answers 200 (audio/mpeg, no Content-Length) and sends FILE's bytes
over and over, 16 KB every quarter second, until the client goes away: an endless stream of
real audio when FILE is, say, an MP3 without a header that declares its length. "/live/NAME"
where DIR has no NAME sends 16 KB of 0xFF bytes a second instead (not audio).

A host that ignores Range: "/norange/FILE" serves FILE whole (200) whatever Range asks.

Interrupted transfers on demand: "/cut/N/FILE" answers the first request for that path with
FILE's headers (its full Content-Length) but closes the connection after N bytes of the body;
later requests (a resume with Range, say) are served normally.
"""

import argparse
import email.utils
import http.server
import os
import re
import signal
import socket
import sys
import threading
import time


def parse_range(header, size):
    """Returns (first, last) inclusive, "unsatisfiable", or None to ignore the header."""
    unit, _, spec = header.partition("=")
    spec = spec.strip()
    if unit.strip().lower() != "bytes" or not spec or "," in spec:
        return None
    first, dash, last = spec.partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    quiet = False
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mp3": "audio/mpeg",
        ".m4a": "audio/x-m4a",
        ".xml": "application/rss+xml",
        ".opml": "text/x-opml",
        ".txt": "text/plain; charset=utf-8",
    }

    flaky_counts = {}
    flaky_lock = threading.Lock()

    def do_GET(self):
        if self.path.startswith("/live/"):
            return self.send_live()
        return super().do_GET()

    def send_live(self):
        path = self.translate_path(self.path[len("/live"):])
        audio = None
        if os.path.isfile(path):
            with open(path, "rb") as f:
                audio = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            at = 0
            while True:
                if audio:
                    piece = (audio * (2 + 16384 // len(audio)))[at:at + 16384]
                    at = (at + 16384) % len(audio)
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(0.25)
                else:
                    self.wfile.write(b"\xff" * 16384)
                    self.wfile.flush()
                    time.sleep(1)
        except OSError:
            pass

    def send_head(self):
        self.range = None
        self.cut_after = None
        norange = re.match(r"^/norange(/.+)$", self.path)
        if norange:
            self.path = norange.group(1)
            return super().send_head()
        lie = re.match(r"^/lie(/.+)$", self.path)
        if lie:
            self.path = lie.group(1)
            path = self.translate_path(self.path)
            if self.headers.get("Range") is None and os.path.isfile(path):
                size = os.path.getsize(path)
                self.send_response(200)
                self.send_header("Content-Type", self.guess_type(path))
                self.send_header("Content-Length", str(2 * size))
                self.end_headers()
                self.cut_after = size
                return open(path, "rb")
        cut = re.match(r"^/cut/(\d+)(/.+)$", self.path)
        if cut:
            with self.flaky_lock:
                seen = self.flaky_counts.get(self.path, 0) + 1
                self.flaky_counts[self.path] = seen
            if seen == 1:
                self.cut_after = int(cut.group(1))
            self.path = cut.group(2)
        flaky = re.match(r"^/flaky/(\d+)(/.+)$", self.path)
        if flaky:
            with self.flaky_lock:
                seen = self.flaky_counts.get(self.path, 0) + 1
                self.flaky_counts[self.path] = seen
            if seen <= int(flaky.group(1)):
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.path = flaky.group(2)
        path = self.translate_path(self.path)
        header = self.headers.get("Range")
        if header is None or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        wanted = parse_range(header, size)
        if wanted is None:
            return super().send_head()
        if wanted == "unsatisfiable":
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        first, last = wanted
        f = open(path, "rb")
        f.seek(first)
        self.range = (first, last)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        mtime = os.fstat(f.fileno()).st_mtime
        self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        self.end_headers()
        return f

    def end_headers(self):
        if self.command in ("GET", "HEAD"):
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def copyfile(self, source, outputfile):
        if self.cut_after is not None:
            outputfile.write(source.read(self.cut_after))
            outputfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.range is None:
            return super().copyfile(source, outputfile)
        remaining = self.range[1] - self.range[0] + 1
        while remaining > 0:
            chunk = source.read(min(64 * 1024, remaining))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)

    def log_message(self, format, *args):
        if not self.quiet:
            super().log_message(format, *args)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", help="the directory to serve")
    parser.add_argument("--dir", dest="dir_option", metavar="DIR", help="the same, as an option")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    args = parser.parse_args()
    args.dir = args.dir or args.dir_option
    if not args.dir or not os.path.isdir(args.dir):
        parser.error("DIR must name an existing directory")

    RangeHandler.quiet = args.quiet
    handler = lambda *a, **kw: RangeHandler(*a, directory=args.dir, **kw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    port = server.server_address[1]
    print(port, flush=True)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
