"""A loopback TCP proxy that can take a service "down" and bring it back, for chaos tests.

Put it between a client (the API, a worker) and a real service (PostgreSQL, RabbitMQ, S3, the API):
``down()`` cuts every open connection mid-stream and closes the listening socket, so new connections
are refused (ECONNREFUSED) exactly as while the service restarts; ``up()`` listens again on the same
port. From the client's side this is a restart, without touching the shared service itself.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    """``127.0.0.1:<port>`` → ``target``. Start/stop, or use as a context manager."""

    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self.connections = 0  # accepted since start: lets a test see that clients reconnected
        self._trip: bytes | None = None
        self.tripped = threading.Event()

    # --- control --------------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        return self.up()

    def up(self) -> TcpProxy:
        """Listen (again) on the same port."""
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name=f"proxy-{self.port}").start()
        return self

    def down(self) -> None:
        """Refuse new connections and cut the open ones (a restart, seen from the client)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
            listener.close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _close(sock)

    stop = down

    def trip_on(self, marker: bytes) -> None:
        """Go down (once) the moment a client sends ``marker`` (e.g. a request line), before it is
        forwarded: a failure in the middle of a known exchange, e.g. between two uploads."""
        self.tripped.clear()
        self._trip = marker

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.down()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    # --- plumbing -------------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # went down meanwhile
                    _close(client)
                    _close(upstream)
                    continue
                self._sockets.update((client, upstream))
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self._trip is not None and self._trip in data:
                    self._trip = None
                    self.down()
                    self.tripped.set()
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
                with self._lock:
                    self._sockets.discard(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
