#!/usr/bin/env python3
"""A stand-in for the original Python Clicom client (seed 000), standard library only.

It speaks exactly what the original client speaks: `join {name}`, `message {name, color, text}`,
`who` and `leave`, and it reads only `message` (name, text, color), `system`, `who` and
`active_users`, ignoring every other type as the original does. Tests drive it through stdin
(one line per action) and read what it would have shown from stdout, one JSON object a line.

Usage: seed_client.py ws://127.0.0.1:PORT/ws NAME COLOR
stdin lines: `say TEXT`, `who`, `wait SECONDS`, `leave`.
"""

import base64
import json
import os
import select
import socket
import struct
import sys
import time
from urllib.parse import urlparse

SHOWN = {"message", "system", "who", "active_users"}


def connect(url):
    parts = urlparse(url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    path = parts.path or "/"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit("handshake: connection closed")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise SystemExit(f"handshake refused: {status!r}")
    return sock


def send_json(sock, obj):
    payload = json.dumps(obj).encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4)
            n = struct.unpack(">H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10)
            n = struct.unpack(">Q", self.buf[2:10])[0]
            off = 10
        self._need(off + n)
        payload = self.buf[off : off + n]
        self.buf = self.buf[off + n :]
        return b0 & 0x0F, payload


def show(opcode, payload, sock):
    if opcode == 0x9:  # ping: answer with a masked pong
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
        return True
    if opcode == 0x8:
        print(json.dumps({"closed": True}), flush=True)
        return False
    if opcode != 0x1:
        return True
    data = json.loads(payload)
    kind = data.get("type")
    if kind == "message":
        print(json.dumps({"type": kind, "name": data.get("name"), "text": data.get("text"),
                          "color": data.get("color")}), flush=True)
    elif kind in SHOWN:
        print(json.dumps(data), flush=True)
    return True


def main():
    url, name, color = sys.argv[1], sys.argv[2], sys.argv[3]
    sock = connect(url)
    reader = Reader(sock)
    send_json(sock, {"type": "join", "name": name})
    open_ = True
    stdin_open = True
    deadline = None
    while open_:
        watch = [sock] + ([sys.stdin] if stdin_open and deadline is None else [])
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if reader.buf:
            timeout = 0.0  # frames already received wait in the buffer
        ready, _, _ = select.select(watch, [], [], timeout)
        if deadline is not None and time.monotonic() >= deadline:
            deadline = None
        if sock in ready or reader.buf:
            try:
                open_ = show(*reader.frame(), sock)
            except EOFError:
                print(json.dumps({"closed": True}), flush=True)
                break
        if sys.stdin in ready:
            line = sys.stdin.readline()
            if not line:
                stdin_open = False
                continue
            cmd, _, arg = line.rstrip("\n").partition(" ")
            if cmd == "say":
                send_json(sock, {"type": "message", "name": name, "color": color, "text": arg})
            elif cmd == "who":
                send_json(sock, {"type": "who"})
            elif cmd == "wait":
                deadline = time.monotonic() + float(arg)
            elif cmd == "leave":
                send_json(sock, {"type": "leave"})
                sock.close()
                break


if __name__ == "__main__":
    main()
