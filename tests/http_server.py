"""A local HTTP server on 127.0.0.1 serving fixed files, with fault modes."""

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    """Serve ``files`` (name -> bytes). ``mode`` per name: 'ok', 'truncate', 'stall'
    (send half, then hang until the server stops), 'not-http' (raw bytes, no
    status line), 'chunked-cut' (a chunked body cut short), 'bad-length' (a
    non-numeric Content-Length), 'drip' (one byte every 0.05 s, at most 30 s)
    and 'endless' (a chunked body of zeros, at most 256 MiB). Every loop is
    bounded and ends when the server stops."""

    def __init__(self, files, modes=None):
        self.files = dict(files)
        self.modes = dict(modes or {})
        self.requests: list[str] = []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(self.path)
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                mode = server.modes.get(name)
                if mode == "not-http":
                    self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\nnot an HTTP reply\r\n")
                    self.close_connection = True
                    return
                if mode in ("chunked-cut", "endless"):
                    self._chunked(body, endless=mode == "endless")
                    return
                if mode == "bad-length":
                    self.send_response(200)
                    self.send_header("Content-Length", "lots")
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if mode == "drip":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for i in range(min(len(body), 600)):
                        if server.stop.wait(0.05):
                            break
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.modes.get(name) == "stall":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    server.stop.wait(60)
                    return
                if server.modes.get(name) == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _chunked(self, body, endless):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if endless:
                        block = bytes(1 << 20)
                        for _ in range(256):
                            if server.stop.is_set():
                                break
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
                    else:
                        half = body[: len(body) // 2]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(body), half))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def unreachable_url():
    """A loopback URL on a port where nothing listens."""
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/data/"
