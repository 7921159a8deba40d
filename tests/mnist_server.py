"""A local HTTP server for the MNIST download tests (data and UI): real sockets on 127.0.0.1,
no mocking. ``mode`` makes it misbehave: "500" / "404" answer with that error, "truncate" cuts
the connection halfway, "stall" sends ``stall_after`` bytes and then waits for ``release``."""

from __future__ import annotations

import http.server
import threading


class Server:
    def __init__(self, files: dict[str, bytes], stall_after: int = 0):
        self.files, self.mode, self.requests = files, "ok", []
        self.stall_after = stall_after
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                if server.mode in ("500", "404") or name not in server.files:
                    self.send_error(500 if server.mode == "500" else 404)
                    return
                data = server.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if server.mode == "truncate":
                        self.wfile.write(data[: len(data) // 2])  # then close: a cut connection
                        return
                    if server.mode == "stall":
                        self.wfile.write(data[: server.stall_after])
                        self.wfile.flush()
                        server.release.wait(10)
                        data = data[server.stall_after:]
                    self.wfile.write(data)
                except OSError:
                    pass  # the client hung up (it cancelled or timed out)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
