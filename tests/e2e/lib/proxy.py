#!/usr/bin/env python3
"""A TCP proxy for end-to-end tests that can cut links on demand (network partitions).

    proxy.py --target PORT --links N --port-file FILE
    proxy.py --link PORT[,PORT...] [--link ...] --port-file FILE

Listens on N free loopback ports ("links", numbered 0..N-1), each forwarding every connection to
127.0.0.1:PORT; give each worker its own link and cut them one at a time. With --link instead,
each --link is one link to its own targets: a connection goes to them round robin, to the next
target when one refuses it (a load balancer in front of several coordinators). The ports are
written to FILE, one a line in link order (FILE.tmp, then renamed). A control port is printed on stdout
and written as the file's last line; it takes one command a line and answers "ok" or "error ...":

    drop N    cut link N: open connections are reset, new ones are accepted and closed at once
    stall N   freeze link N: open and new connections stay open but no byte moves either way
              (the client sees a timeout, as behind a dead router)
    pass N    heal link N: stalled connections carry on, new ones are forwarded again

The target may go away and come back (a coordinator restarted on the same port); a connection
made while every target of its link is down is closed. Runs until killed.
"""

import argparse
import asyncio
import os
import sys


class Link:
    def __init__(self, targets):
        self.targets = targets
        self.next = 0  # the target the next connection tries first
        self.mode = "pass"
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.connections = set()  # (client writer, upstream writer) pairs

    def set_mode(self, mode):
        self.mode = mode
        if mode == "pass":
            self.flowing.set()
            return
        self.flowing.clear()
        if mode == "drop":
            for pair in list(self.connections):
                for writer in pair:
                    if writer is not None:
                        writer.transport.abort()
            self.connections.clear()


async def pump(link, reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await link.flowing.wait()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def connect(link):
    """A connection to the link's next target that accepts one, round robin; None if none does."""
    start = link.next
    link.next = (link.next + 1) % len(link.targets)
    for i in range(len(link.targets)):
        try:
            return await asyncio.open_connection(
                "127.0.0.1", link.targets[(start + i) % len(link.targets)])
        except OSError:
            pass
    return None


async def handle(link, client_reader, client_writer):
    if link.mode == "drop":
        client_writer.transport.abort()
        return
    await link.flowing.wait()
    if link.mode == "drop":
        client_writer.transport.abort()
        return
    upstream = await connect(link)
    if upstream is None:
        client_writer.close()
        return
    up_reader, up_writer = upstream
    pair = (client_writer, up_writer)
    link.connections.add(pair)
    try:
        await asyncio.gather(pump(link, client_reader, up_writer),
                             pump(link, up_reader, client_writer))
    finally:
        link.connections.discard(pair)


async def control(links, reader, writer):
    while True:
        line = await reader.readline()
        if not line:
            break
        parts = line.decode().split()
        try:
            command, index = parts[0], int(parts[1])
            if command not in ("drop", "stall", "pass"):
                raise ValueError(command)
            links[index].set_mode(command)
            writer.write(b"ok\n")
        except (ValueError, IndexError) as e:
            writer.write(f"error {e}\n".encode())
        await writer.drain()
    writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int)
    parser.add_argument("--links", type=int)
    parser.add_argument("--link", action="append", default=[])
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    if args.link:
        links = [Link([int(p) for p in spec.split(",")]) for spec in args.link]
    elif args.target and args.links:
        links = [Link([args.target]) for _ in range(args.links)]
    else:
        parser.error("give --target and --links, or --link")

    ports = []
    for link in links:
        server = await asyncio.start_server(
            lambda r, w, link=link: handle(link, r, w), "127.0.0.1", 0)
        ports.append(server.sockets[0].getsockname()[1])
    ctl = await asyncio.start_server(lambda r, w: control(links, r, w), "127.0.0.1", 0)
    ctl_port = ctl.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(f"{p}\n" for p in ports) + f"{ctl_port}\n")
    os.replace(tmp, args.port_file)
    print(ctl_port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
