#!/usr/bin/env python3
"""Carbon stand-in for the demo: accepts TCP connections on PORT, counts
connections and complete lines, and rewrites STATS_FILE ("connections lines")
five times a second. Closes each connection when the peer does, as carbon does."""
import os
import selectors
import socket
import sys
import time

port, stats_path = int(sys.argv[1]), sys.argv[2]
selector = selectors.DefaultSelector()
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", port))
server.listen(4096)
server.setblocking(False)
selector.register(server, selectors.EVENT_READ)
connections = lines = 0
last_write = 0.0
while True:
    for key, _ in selector.select(0.2):
        if key.fileobj is server:
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                continue
            conn.setblocking(False)
            selector.register(conn, selectors.EVENT_READ)
            connections += 1
            continue
        conn = key.fileobj
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionError:
            data = b""
        if data:
            lines += data.count(b"\n")
        else:
            selector.unregister(conn)
            conn.close()
    now = time.monotonic()
    if now - last_write >= 0.2:
        with open(stats_path + ".tmp", "w") as f:
            f.write(f"{connections} {lines}\n")
        os.replace(stats_path + ".tmp", stats_path)
        last_write = now
