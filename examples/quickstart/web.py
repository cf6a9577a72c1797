"""The quickstart web app: a page that shows what the API says."""
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_URL = os.environ["API_URL"]


class Web(BaseHTTPRequestHandler):
    def do_GET(self):
        with urllib.request.urlopen(f"{API_URL}/from-web") as answer:
            api = answer.read().decode()
        replica = os.environ.get("WHARF_REPLICA", "?")
        body = f"<h1>quickstart</h1><p>web replica {replica}</p><pre>{api}</pre>\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


port = int(os.environ.get("PORT", "8000"))
print(f"web listening on 127.0.0.1:{port}", flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Web).serve_forever()
