"""The quickstart API: counts requests and says which process answered."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

hits = 0


class Api(BaseHTTPRequestHandler):
    def do_GET(self):
        global hits
        hits += 1
        body = json.dumps({"path": self.path, "hits": hits, "pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("api:", fmt % args, flush=True)


port = int(os.environ.get("PORT", "8010"))
print(f"api listening on 127.0.0.1:{port}", flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Api).serve_forever()
