"""Shop front: renders the catalogue from the API, caching it in memcached."""
import json
import os
import socket
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def memcached(command):
    host, port = os.environ["MEMCACHED_ADDR"].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(command)
        return conn.recv(65536)


def catalogue():
    cached = memcached(b"get catalogue\r\n")
    if cached.startswith(b"VALUE"):
        return json.loads(cached.split(b"\r\n")[1]), "memcached"
    with urllib.request.urlopen(os.environ["API_URL"] + "/products") as answer:
        data = answer.read()
    memcached(b"set catalogue 0 5 %d\r\n%s\r\n" % (len(data), data))
    return json.loads(data), "api"


class Shop(BaseHTTPRequestHandler):
    def do_GET(self):
        data, source = catalogue()
        items = "".join(f"<li>{p['name']}: {int(p['price_cents']) / 100:.2f}</li>" for p in data["products"])
        body = f"<h1>marketplace</h1><ul>{items}</ul><p>from {source}</p>\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


port = int(os.environ["PORT"])
print(f"web listening on 127.0.0.1:{port}", flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Shop).serve_forever()
