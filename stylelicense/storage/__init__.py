"""Object storage behind one small interface: local files (default) or S3 (boto3).

Two locations: *private* (training images, LoRA files, signatures — never served without
authorization) and *public* (signed outputs and thumbnails only). Importable without Flask so the
workers use the same code.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlparse


class StorageError(RuntimeError):
    """Storage unreachable or misconfigured."""


class ObjectNotFound(KeyError):
    """No object under that key."""


class Storage(Protocol):
    def put(self, key: str, data: bytes, *, public: bool = False, content_type: str | None = None) -> None: ...
    def get(self, key: str, *, public: bool = False) -> bytes: ...
    def exists(self, key: str, *, public: bool = False) -> bool: ...
    def delete(self, key: str, *, public: bool = False) -> None: ...
    def public_url(self, key: str) -> str: ...
    def private_url(self, key: str, *, expires_in: int = 300, expires_at: int | None = None) -> str: ...
    def check(self) -> None: ...


def _safe_key(key: str) -> str:
    parts = [p for p in key.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or key.startswith("/"):
        raise ValueError(f"invalid storage key {key!r}")
    return "/".join(parts)


class LocalStorage:
    """Files under ``root/private`` and ``root/public``. Public files are served by the API at
    ``/media/<key>``; private ones only through short-lived signed URLs (``/media/private/...``)."""

    def __init__(self, root: str | Path, *, public_base_url: str = "/media", signing_key: str = ""):
        self.root = Path(root)
        self.public_base_url = public_base_url.rstrip("/")
        self.signing_key = signing_key.encode()

    def _path(self, key: str, public: bool) -> Path:
        return self.root / ("public" if public else "private") / _safe_key(key)

    def put(self, key: str, data: bytes, *, public: bool = False, content_type: str | None = None) -> None:
        if public and _safe_key(key).split("/")[0] == "private":
            # /media/private/… is the signed-URL route: a public key there could never be served.
            raise ValueError(f"public keys cannot start with private/: {key!r}")
        path = self._path(key, public)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary name unique to this writer (threads share a pid), then an atomic rename:
        # a reader sees the old file or the new one, never half of one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; served files must be readable by a web server
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def get(self, key: str, *, public: bool = False) -> bytes:
        try:
            return self._path(key, public).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def exists(self, key: str, *, public: bool = False) -> bool:
        return self._path(key, public).is_file()

    def delete(self, key: str, *, public: bool = False) -> None:
        self._path(key, public).unlink(missing_ok=True)

    def public_url(self, key: str) -> str:
        return f"{self.public_base_url}/{quote(_safe_key(key))}"

    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self.signing_key, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def private_url(self, key: str, *, expires_in: int = 300, expires_at: int | None = None) -> str:
        """A signed URL valid for ``expires_in`` seconds (or until the Unix time ``expires_at``)."""
        expires = expires_at if expires_at is not None else int(time.time()) + expires_in
        key = _safe_key(key)
        return f"{self.public_base_url}/private/{quote(key)}?expires={expires}&signature={self.sign(key, expires)}"

    def verify(self, key: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        """A private URL's signature is valid and not expired (``now``: the clock, for tests)."""
        now = time.time() if now is None else now
        return expires >= now and hmac.compare_digest(self.sign(key, expires), signature)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".readyz"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as error:
            raise StorageError(str(error)) from error


class S3Storage:
    """An S3 (or S3-compatible) bucket: ``<prefix>private/…`` and ``<prefix>public/…``.

    Objects are written without ACLs (new AWS buckets have ACLs disabled), so everything is private
    until the bucket says otherwise: the public location is made readable by the bucket policy of
    :meth:`public_read_policy` or served by a CDN (``PUBLIC_STORAGE_URL``). Public objects are
    addressed at ``public_base_url`` (that CDN, or the bucket's endpoint); private objects only
    through presigned URLs that expire.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        public_base_url: str | None = None,
        client=None,
    ):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, signature_version="s3v4"),
        )
        base = public_base_url or f"{(endpoint_url or 'https://s3.amazonaws.com').rstrip('/')}/{bucket}"
        self.public_base_url = base.rstrip("/")

    def _key(self, key: str, public: bool) -> str:
        return f"{self.prefix}{'public' if public else 'private'}/{_safe_key(key)}"

    def put(self, key: str, data: bytes, *, public: bool = False, content_type: str | None = None) -> None:
        extra = {"ContentType": content_type} if content_type else {}
        self.client.put_object(Bucket=self.bucket, Key=self._key(key, public), Body=data, **extra)

    def get(self, key: str, *, public: bool = False) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key, public))["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFound(key) from None
            raise

    def exists(self, key: str, *, public: bool = False) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key, public))
            return True
        except ClientError:
            return False

    def delete(self, key: str, *, public: bool = False) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key, public))

    def public_url(self, key: str) -> str:
        if self.public_base_url.endswith(f"/{self.bucket}"):
            return f"{self.public_base_url}/{quote(self._key(key, True))}"
        return f"{self.public_base_url}/{quote(_safe_key(key))}"

    def private_url(self, key: str, *, expires_in: int = 300, expires_at: int | None = None) -> str:
        if expires_at is not None:
            expires_in = max(1, expires_at - int(time.time()))
        return self.client.generate_presigned_url(
            "get_object",
            ExpiresIn=expires_in,
            # A private object is for one browser only: no shared cache (CDN, proxy) keeps a copy.
            Params={"Bucket": self.bucket, "Key": self._key(key, False), "ResponseCacheControl": "private, no-store"},
        )

    def public_read_policy(self) -> dict:
        """The bucket policy that lets anyone read the public location, and nothing else."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "StyleLicensePublicOutputs",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{self.bucket}/{self.prefix}public/*",
                }
            ],
        }

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as error:  # any failure means "not ready"
            raise StorageError(str(error)) from error


def storage_from_url(
    url: str, *, public_base_url: str | None = None, endpoint_url: str | None = None, signing_key: str = ""
) -> Storage:
    """Build the backend for ``file:///path`` or ``s3://bucket[/prefix]``."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(parsed.path, public_base_url=public_base_url or "/media", signing_key=signing_key)
    if parsed.scheme == "s3":
        return S3Storage(parsed.netloc, parsed.path, endpoint_url=endpoint_url, public_base_url=public_base_url)
    raise StorageError(f"unsupported STORAGE_URL {url!r} (use file:///path or s3://bucket/prefix)")


def storage_from_env(env: dict[str, str] | None = None) -> Storage:
    """Workers build their storage from the same variables as the API (SPEC §12)."""
    env = dict(os.environ if env is None else env)
    url = env.get("STORAGE_URL")
    if not url:
        # The API's local default (config.py): <instance>/storage, so `make run` needs no setting.
        instance = env.get("STYLELICENSE_INSTANCE") or str(Path(__file__).resolve().parents[2] / "instance")
        url = (Path(instance) / "storage").as_uri()
    return storage_from_url(
        url,
        public_base_url=env.get("PUBLIC_STORAGE_URL"),
        endpoint_url=env.get("S3_ENDPOINT_URL"),
        signing_key=env.get("SECRET_KEY", ""),
    )


def get_storage() -> Storage:
    """The app's storage (one per app, built on first use)."""
    from flask import current_app

    storage = current_app.extensions.get("stylelicense.storage")
    if storage is None:
        config = current_app.config
        storage = storage_from_url(
            config["STORAGE_URL"],
            public_base_url=config["PUBLIC_STORAGE_URL"],
            endpoint_url=config["S3_ENDPOINT_URL"],
            signing_key=config["SECRET_KEY"],
        )
        current_app.extensions["stylelicense.storage"] = storage
    return storage
