"""An S3-compatible endpoint on loopback: moto's server mode in a thread.

moto 5.2's ``ThreadedMotoServer(ip_address, port)`` accepts ``port=0``; the port the OS picked is
read back with ``get_host_and_port()`` after ``start()``. Its ``stop()`` shuts the server down but
leaves the listening socket open, so :meth:`FakeS3.stop` closes it too.

moto keeps its state in process-wide backends (shared with any ``mock_aws`` in the same process);
:meth:`FakeS3.reset` empties them through moto's ``/moto-api/reset`` endpoint.
"""

from __future__ import annotations

from typing import Any

import requests
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"


class FakeS3:
    """moto S3 on ``http://127.0.0.1:<port>``. Start/stop, or use as a context manager."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""

    def start(self) -> FakeS3:
        """Start moto in a background thread on a free port; returns ``self``."""
        if self._server is not None:
            raise RuntimeError("already started")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        """Stop moto and close its socket (idempotent)."""
        server = self._server
        if server is None:
            return
        server.stop()
        inner = getattr(server, "_server", None)  # moto's stop() does not close the socket
        if inner is not None:
            inner.server_close()
        self._server = None
        self.endpoint_url = ""

    def __enter__(self) -> FakeS3:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def reset(self) -> None:
        """Drop every bucket and object (all moto state in this process)."""
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("s3", **fake.client_kwargs())``."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
        }

    def env(self) -> dict[str, str]:
        """Environment for the app's S3 storage backend (``S3_ENDPOINT_URL`` + the usual ``AWS_*``);
        combine with ``STORAGE_URL=s3://<bucket>``."""
        return {
            "S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
        }

    def create_bucket(self, name: str) -> None:
        """Create a bucket (needs boto3, which the app depends on anyway)."""
        import boto3

        client = boto3.client("s3", **self.client_kwargs())
        try:
            client.create_bucket(Bucket=name)
        finally:
            client.close()


def start_s3() -> FakeS3:
    """Start a :class:`FakeS3` and return it (call ``.stop()`` when done)."""
    return FakeS3().start()
