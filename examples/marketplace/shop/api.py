"""Catalogue API: products from Postgres (through psql), a view counter in Redis."""
import json
import os
import socket
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def products():
    rows = subprocess.run(
        ["psql", os.environ["DATABASE_URL"], "-Atc", "select id, name, price_cents from products order by id"],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    return [dict(zip(("id", "name", "price_cents"), r.split("|"))) for r in rows]


def redis_incr(key):
    host, port = os.environ["REDIS_ADDR"].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(f"*2\r\n$4\r\nINCR\r\n${len(key)}\r\n{key}\r\n".encode())
        return int(conn.recv(64).decode().strip().lstrip(":"))


class Api(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"views": redis_incr("catalogue:views"), "products": products()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


port = int(os.environ["PORT"])
print(f"api listening on 127.0.0.1:{port}", flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Api).serve_forever()
