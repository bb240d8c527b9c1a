"""Storage: local files (atomic writes, safe keys, private objects only through signed URLs) and S3
through boto3 against moto's S3 server on loopback (no patched client)."""

from __future__ import annotations

import json
import threading
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.storage import (
    LocalStorage,
    ObjectNotFound,
    S3Storage,
    StorageError,
    get_storage,
    storage_from_env,
    storage_from_url,
)
from stylelicense.users.models import Artist
from tests.conftest import ApiClient, base_env
from tests.fakes.s3_server import FakeS3

BAD_KEYS = ["", "/", "../x", "a/../../x", "a/./b", "/etc/passwd", "..", "a/.."]


# --- local files --------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path):
    return LocalStorage(tmp_path / "store", signing_key="k1")


def test_local_put_get_exists_delete_keep_public_and_private_apart(local):
    local.put("a/b/c.bin", b"private bytes")
    local.put("a/b/c.bin", b"public bytes", public=True)
    assert local.get("a/b/c.bin") == b"private bytes"
    assert local.get("a/b/c.bin", public=True) == b"public bytes"
    local.delete("a/b/c.bin")
    assert not local.exists("a/b/c.bin") and local.exists("a/b/c.bin", public=True)
    with pytest.raises(ObjectNotFound):
        local.get("a/b/c.bin")
    with pytest.raises(ObjectNotFound):
        local.get("a/b", public=True)  # a folder is not an object
    local.delete("never/there")  # deleting what is not there is fine


def test_local_overwrite_is_atomic_under_concurrent_writers(local):
    """Writers of the same key in threads of one process, and a reader: the reader only ever sees
    one complete version, and no temporary file is left behind."""
    versions = [bytes([i]) * 300_000 for i in range(6)]
    local.put("hot/key.bin", versions[0])
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[bytes] = set()

    def write(payload: bytes):
        try:
            for _ in range(30):
                local.put("hot/key.bin", payload)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def read():
        while not stop.is_set():
            data = local.get("hot/key.bin")
            seen.add(data[:1] * len(data) == data and len(data) == 300_000)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(v,)) for v in versions]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert errors == []
    assert seen == {True}
    assert local.get("hot/key.bin") in versions
    assert [p.name for p in (local.root / "private" / "hot").iterdir()] == ["key.bin"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_refuses_keys_that_leave_the_root(local, key):
    for call in (
        lambda: local.put(key, b"x"),
        lambda: local.get(key),
        lambda: local.exists(key),
        lambda: local.delete(key, public=True),
        lambda: local.public_url(key),
    ):
        with pytest.raises(ValueError):
            call()
    assert not (local.root.parent / "x").exists()


def test_local_public_keys_cannot_shadow_the_signed_route(local):
    with pytest.raises(ValueError):
        local.put("private/x.png", b"x", public=True)


def test_local_check_reports_an_unusable_root(tmp_path):
    LocalStorage(tmp_path / "ok").check()
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StorageError):
        LocalStorage(tmp_path / "file" / "root").check()


# --- local files served by the app --------------------------------------------------------------


@pytest.fixture
def media(app):
    with app.app_context():
        storage = get_storage()
    storage.put("pics/open.png", b"public-bytes", public=True)
    storage.put("pics/secret.png", b"private-bytes")
    return storage


def test_public_objects_are_served_at_media(client, media):
    response = client.get(media.public_url("pics/open.png"))
    assert response.status_code == 200 and response.data == b"public-bytes"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_private_objects_are_not_served_publicly(client, media):
    assert client.get("/media/pics/secret.png").status_code == 404
    response = client.get("/media/private/pics/secret.png")
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"


def test_a_valid_signed_url_serves_a_private_object(client, media):
    url = media.private_url("pics/secret.png", expires_in=60)
    response = client.get(url)
    assert response.status_code == 200 and response.data == b"private-bytes"
    assert "max-age=0" in response.headers.get("Cache-Control", "") or "no-cache" in response.headers.get(
        "Cache-Control", ""
    )


def test_expired_forged_or_moved_signatures_are_refused(client, media):
    expired = media.private_url("pics/secret.png", expires_in=-1)
    assert client.get(expired).status_code == 403
    url = media.private_url("pics/secret.png", expires_in=60)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    signature, expires = query["signature"][0], int(query["expires"][0])
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert client.get(f"{parts.path}?expires={expires}&signature={forged}").status_code == 403
    # The signature covers the expiry: pushing it later breaks it.
    assert client.get(f"{parts.path}?expires={expires + 3600}&signature={signature}").status_code == 403
    # And the key: a valid signature does not open another object.
    media.put("pics/other.png", b"other")
    assert client.get(f"/media/private/pics/other.png?expires={expires}&signature={signature}").status_code == 403
    assert client.get(f"{parts.path}?expires=soon&signature={signature}").status_code == 403
    # A different SECRET_KEY signs differently.
    stranger = LocalStorage(media.root, signing_key="another-key")
    assert client.get(stranger.private_url("pics/secret.png")).status_code == 403


def test_traversal_through_the_media_routes_is_refused(client, media, app):
    (media.root / "outside.txt").write_text("top secret")
    for path in [
        "/media/%2e%2e/outside.txt",
        "/media/pics/%2e%2e/%2e%2e/outside.txt",
        "/media/private/%2e%2e/outside.txt",
        "/media/..%2foutside.txt",
    ]:
        response = client.get(path)
        assert response.status_code in (403, 404), path
        assert b"top secret" not in response.data


# --- S3 through moto's server -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_s3():
    with FakeS3() as fake:
        yield fake


@pytest.fixture
def s3_env(fake_s3, monkeypatch):
    """A bucket set up as in production: private by default, the public location opened by the
    storage's own bucket policy."""
    fake_s3.reset()
    fake_s3.create_bucket("sl-media")
    for name, value in fake_s3.env().items():
        monkeypatch.setenv(name, value)
    env = {"STORAGE_URL": "s3://sl-media/prod", **fake_s3.env()}
    storage = storage_from_env(env)
    storage.client.put_bucket_policy(Bucket="sl-media", Policy=json.dumps(storage.public_read_policy()))
    return env


@pytest.fixture
def s3(s3_env) -> S3Storage:
    storage = storage_from_env(s3_env)
    assert isinstance(storage, S3Storage)
    return storage


def test_s3_put_get_public_and_private(s3, fake_s3):
    s3.put("lora/1.safetensors", b"weights", content_type="application/octet-stream")
    s3.put("out/1.png", b"png", public=True, content_type="image/png")
    assert s3.get("lora/1.safetensors") == b"weights"
    assert s3.get("out/1.png", public=True) == b"png"
    assert s3.exists("lora/1.safetensors") and not s3.exists("lora/1.safetensors", public=True)
    with pytest.raises(ObjectNotFound):
        s3.get("lora/1.safetensors", public=True)
    # Objects live under <prefix>/private/ and <prefix>/public/ with their content type.
    head = s3.client.head_object(Bucket="sl-media", Key="prod/public/out/1.png")
    assert head["ContentType"] == "image/png"
    assert s3.client.head_object(Bucket="sl-media", Key="prod/private/lora/1.safetensors")
    s3.delete("lora/1.safetensors")
    assert not s3.exists("lora/1.safetensors")


def test_s3_private_objects_need_a_presigned_url(s3, s3_env):
    s3.put("sig/a.png", b"signature-bytes")
    # Without a signature S3 refuses (moto applies the bucket's policy to anonymous requests).
    direct = f"{s3_env['S3_ENDPOINT_URL']}/sl-media/prod/private/sig/a.png"
    assert requests.get(direct, timeout=10).status_code == 403
    # The public URL of the same key does not reach the private object either.
    assert requests.get(s3.public_url("sig/a.png"), timeout=10).status_code in (403, 404)

    url = s3.private_url("sig/a.png", expires_in=120)
    query = parse_qs(urlsplit(url).query)
    # (moto does not check presigned signatures or expiry; AWS does. We check what we send.)
    assert query["X-Amz-Expires"] == ["120"] and query["X-Amz-Signature"][0]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert urlsplit(url).path.endswith("/sl-media/prod/private/sig/a.png")
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == b"signature-bytes"


def test_s3_public_url_points_at_the_public_location(s3, s3_env):
    s3.put("out/2.png", b"public-png", public=True)
    url = s3.public_url("out/2.png")
    assert url == f"{s3_env['S3_ENDPOINT_URL']}/sl-media/prod/public/out/2.png"
    assert requests.get(url, timeout=10).content == b"public-png"
    # With a CDN in front of the public location, URLs are built on it.
    cdn = storage_from_url(
        "s3://sl-media/prod", endpoint_url=s3_env["S3_ENDPOINT_URL"], public_base_url="https://cdn.example.com/media/"
    )
    assert cdn.public_url("out/2.png") == "https://cdn.example.com/media/out/2.png"


@pytest.mark.parametrize("key", BAD_KEYS)
def test_s3_refuses_unsafe_keys(s3, key):
    with pytest.raises(ValueError):
        s3.put(key, b"x")


def test_s3_check(s3, s3_env):
    s3.check()
    with pytest.raises(StorageError):
        storage_from_env({**s3_env, "STORAGE_URL": "s3://no-such-bucket"}).check()
    with pytest.raises(StorageError):
        storage_from_env({**s3_env, "S3_ENDPOINT_URL": "http://127.0.0.1:9"}).check()


def test_unknown_storage_url_is_refused():
    with pytest.raises(StorageError):
        storage_from_url("ftp://example.com/x")
    with pytest.raises(StorageError):
        storage_from_env({"STORAGE_URL": "gopher://x"})


def test_workers_default_to_the_apis_local_storage(tmp_path):
    """Without STORAGE_URL a worker uses the same <instance>/storage folder as the API (`make run`)."""
    from stylelicense.config import load_config

    storage = storage_from_env({"STYLELICENSE_INSTANCE": str(tmp_path)})
    storage.put("a/b.txt", b"shared")
    api_url = load_config(tmp_path, {})["STORAGE_URL"]
    assert storage_from_url(api_url).get("a/b.txt") == b"shared"


def test_app_on_s3_stores_profile_pictures_publicly_and_signatures_privately(s3_env, database_url, tmp_path, png_bytes):
    """The whole path: upload through the API of an app configured for S3, then fetch over HTTP."""
    from stylelicense.app import create_app

    app = create_app(env=base_env(tmp_path, database_url, **s3_env))
    app.test_client_class = ApiClient
    client = app.test_client()
    assert client.get("/readyz").get_json()["checks"]["storage"] == "ok"
    client.post("/api/auth/dev-login", json={"email": "s3@example.com", "username": "s3user"})
    response = client.patch(
        "/api/users/me",
        data={"profile_image": (BytesIO(png_bytes(64, 64)), "me.png")},
        content_type="multipart/form-data",
    )
    url = response.get_json()["data"]["profile_image_url"]
    assert url.startswith(f"{s3_env['S3_ENDPOINT_URL']}/sl-media/prod/public/profiles/")
    assert requests.get(url, timeout=10).content[:3] == b"\xff\xd8\xff"  # a JPEG, served by S3

    response = client.post(
        "/api/users/me/upgrade-to-artist",
        data={
            "artist_name": "On S3",
            "contact_email": "s3@example.com",
            "signature_image": (BytesIO(png_bytes(200, 80)), "sig.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    with app.app_context():
        key = db.session.scalar(select(Artist.signature_image_key))
        storage = get_storage()
    assert storage.exists(key) and not storage.exists(key, public=True)
    assert requests.get(f"{s3_env['S3_ENDPOINT_URL']}/sl-media/prod/private/{key}", timeout=10).status_code == 403


def test_signed_urls_expire(local):
    url = local.private_url("x.png", expires_in=1)
    query = parse_qs(urlsplit(url).query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    assert local.verify("x.png", expires, signature)
    assert local.verify("x.png", expires, signature, now=expires)  # valid up to its last second
    assert not local.verify("x.png", expires, signature, now=expires + 1)
    assert not local.verify("x.png", expires + 1, signature, now=expires)  # a longer life is not for sale
