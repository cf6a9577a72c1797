"""A test backend for the proxy tests: answers who it is, echoes bodies by size, streams
a large chunked body, and echoes WebSocket text frames. Usage: proxy_backend.py NAME PORT"""
import base64
import hashlib
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME, PORT = sys.argv[1], int(sys.argv[2])
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, text):
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path.endswith("/stream"):
            return self.stream(20 * 1024 * 1024)
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        forwarded = self.headers.get("X-Forwarded-For", "-")
        self.reply(f"{NAME} {self.path} xff={forwarded} xfh={self.headers.get('X-Forwarded-Host', '-')}")

    def do_POST(self):
        remaining, total = int(self.headers.get("Content-Length", "0")), 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
            total += len(chunk)
        self.reply(f"{NAME} received {total}")

    def stream(self, size):
        """`size` bytes in chunks of 64 KiB, written as they are made."""
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"y" * 65536
        for _ in range(size // len(chunk)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        head = self.rfile.read(2)
        length = head[1] & 0x7F
        mask = self.rfile.read(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
        answer = f"{NAME} echoes {payload.decode()}".encode()
        self.wfile.write(bytes([0x81, len(answer)]) + answer)
        self.wfile.flush()

    def log_message(self, fmt, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = False


def stop_gracefully(*_):
    # Stop accepting, let the requests in progress finish, then exit.
    threading.Thread(target=lambda: (server.shutdown(), server.server_close())).start()


signal.signal(signal.SIGTERM, stop_gracefully)
server.serve_forever()
