"""A local HTTP server for the MNIST download tests (data and UI): real sockets on 127.0.0.1,
no mocking. ``mode`` makes it misbehave: "500" / "404" answer with that error, "truncate" cuts
the connection halfway, "stall" sends ``stall_after`` bytes and then waits for ``release``,
"trickle" sends one byte every ``trickle_every`` seconds (2 s) until the client hangs up or the
server closes. ``gates`` (a list of ``(n_bytes, threading.Event)``), when not empty, gives the
next request its own stall: it sends ``n_bytes``, waits for that event, then sends the rest.
``sent`` counts the body bytes written, over all requests."""

from __future__ import annotations

import http.server
import threading


class Server:
    def __init__(self, files: dict[str, bytes], stall_after: int = 0, trickle_every: float = 2.0):
        self.files, self.mode, self.requests = files, "ok", []
        self.stall_after = stall_after
        self.trickle_every = trickle_every
        self.release = threading.Event()
        self.gates: list[tuple[int, threading.Event]] = []
        self.sent = 0
        self.first_byte = threading.Event()  # set once any body byte has been written
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def send(self, data: bytes) -> None:
                self.wfile.write(data)
                self.wfile.flush()
                server.sent += len(data)
                if data:
                    server.first_byte.set()

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                if server.mode in ("500", "404") or name not in server.files:
                    self.send_error(500 if server.mode == "500" else 404)
                    return
                data = server.files[name]
                gate = server.gates.pop(0) if server.gates else None
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    if gate is not None:
                        self.send(data[: gate[0]])
                        gate[1].wait(10)
                        data = data[gate[0]:]
                    elif server.mode == "truncate":
                        self.send(data[: len(data) // 2])  # then close: a cut connection
                        return
                    elif server.mode == "stall":
                        self.send(data[: server.stall_after])
                        server.release.wait(10)
                        data = data[server.stall_after:]
                    elif server.mode == "trickle":
                        for i in range(len(data)):
                            self.send(data[i : i + 1])
                            if server.release.wait(server.trickle_every):
                                return  # the server is closing
                        return
                    self.send(data)
                except OSError:
                    pass  # the client hung up (it cancelled or timed out)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self):
        self.release.set()
        for _, gate in self.gates:
            gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
