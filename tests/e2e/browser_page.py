#!/usr/bin/env python3
"""Reads the text of the page a running browser shows, through the browser's own remote
protocol (Python standard library only: CI installs nothing from PyPI for this).

    browser_page.py marionette PORT [--wait TEXT] [--scroll TEXT] [--timeout S]
    browser_page.py cdp PORT [--wait TEXT] [--scroll TEXT] [--timeout S]

marionette: Firefox started with --marionette (pref marionette.port = PORT); the protocol is
length-prefixed JSON over TCP ("LEN:[0,id,command,params]").
cdp: Chromium started with --remote-debugging-port=PORT; the DevTools protocol is JSON over a
WebSocket, whose client side (RFC 6455: masked text frames) is written out below.

Polls document.body.innerText until it contains every --wait TEXT (or the timeout, default
30 s, runs out), then scrolls the first --scroll TEXT into view (for a screenshot) and prints
the text. Exit status 0 when every --wait text was seen, 1 otherwise (the last text read is
printed all the same), 2 when the browser could not be reached.
"""

import argparse
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.request

READ_TEXT = "return document.body ? document.body.innerText : ''"


def scroll_script(text):
    # window.find selects the text and scrolls it into view (Firefox and Chromium).
    return "window.find(%s); return true;" % json.dumps(text)


class Marionette:
    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.next_id = 0
        self._recv()  # the server's hello: {"applicationType": "gecko", ...}
        self._call("WebDriver:NewSession", {})

    def _recv(self):
        size = b""
        while not size.endswith(b":"):
            c = self.file.read(1)
            if not c:
                raise ConnectionError("Marionette closed the connection")
            size += c
        return json.loads(self.file.read(int(size[:-1])))

    def _call(self, command, params):
        self.next_id += 1
        data = json.dumps([0, self.next_id, command, params]).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            msg = self._recv()
            if msg[0] == 1 and msg[1] == self.next_id:
                if msg[2]:
                    raise RuntimeError("Marionette %s: %s" % (command, msg[2]))
                return msg[3]

    def run(self, script):
        r = self._call("WebDriver:ExecuteScript", {"script": script, "args": []})
        return (r or {}).get("value")


class WebSocket:
    def __init__(self, url, timeout):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ) % (path, hostport, key)
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            c = self.sock.recv(1)
            if not c:
                raise ConnectionError("the DevTools WebSocket closed during the handshake")
            head += c
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError("WebSocket handshake refused: %r" % head[:200])

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            c = self.sock.recv(n - len(buf))
            if not c:
                raise ConnectionError("the DevTools WebSocket closed")
            buf += c
        return buf

    def send(self, text):
        payload = text.encode()
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._exact(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._exact(8))
            mask = self._exact(4) if b1 & 0x80 else None
            data = self._exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("the DevTools WebSocket was closed by the browser")
            if opcode in (0x9, 0xA):  # ping, pong: not expected, ignored
                continue
            message += data
            if b0 & 0x80:
                return message.decode()


class DevTools:
    def __init__(self, port, timeout):
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=timeout) as r:
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise ConnectionError("no page target in %d DevTools targets" % len(targets))
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"], timeout)
        self.next_id = 0

    def run(self, script):
        self.next_id += 1
        expr = "(function(){%s})()" % script
        self.ws.send(
            json.dumps(
                {
                    "id": self.next_id,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expr, "returnByValue": True},
                }
            )
        )
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError("Runtime.evaluate: %s" % msg["error"])
                return msg["result"].get("result", {}).get("value")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("protocol", choices=["marionette", "cdp"])
    ap.add_argument("port", type=int)
    ap.add_argument("--wait", action="append", default=[])
    ap.add_argument("--scroll")
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    browser = None
    while browser is None:
        try:
            if a.protocol == "marionette":
                browser = Marionette(a.port, a.timeout)
            else:
                browser = DevTools(a.port, a.timeout)
        except (OSError, ConnectionError, RuntimeError) as e:
            if time.monotonic() > deadline:
                print("browser_page: cannot reach the browser: %s" % e, file=sys.stderr)
                return 2
            time.sleep(0.5)
    text = ""
    while True:
        try:
            text = browser.run(READ_TEXT) or ""
        except RuntimeError as e:  # a page being replaced
            print("browser_page: %s" % e, file=sys.stderr)
        if all(w in text for w in a.wait) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if a.scroll and a.scroll in text:
        browser.run(scroll_script(a.scroll))
    print(text)
    return 0 if all(w in text for w in a.wait) else 1


if __name__ == "__main__":
    sys.exit(main())
