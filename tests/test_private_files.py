"""Private images (SPEC §13): a private generation's files are served to their owner only, through
signed expiring URLs marked ``Cache-Control: private``; switching visibility moves the files to new
keys, so every earlier URL (a remembered public one, the keys in the job payload Flower shows)
stops working. Local storage and S3 (moto on loopback)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests

from stylelicense.extensions import db
from stylelicense.storage import get_storage
from tests import factories
from tests.conftest import INTERNAL_TOKEN, ApiClient, base_env
from tests.fakes.s3_server import FakeS3

HEADERS = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "X-Request-Source": "inference-server"}


def deliver(app, client, login) -> SimpleNamespace:
    """Buy an image and let a (pretend) worker store it in the public location and complete it."""
    with app.app_context():
        artist = factories.create_artist("painter", "Painter Pat")
        style = factories.create_style(artist, title="Ink Wash", lora_key="styles/1/lora.safetensors")
        db.session.commit()
        style_id = style.id
    login(client, "owner")
    created = client.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["cat"]})
    assert created.status_code == 201, created.get_json()
    generation_id = created.get_json()["data"]["id"]
    worker_keys = (f"generations/{generation_id}/w0rk3r.png", f"generations/{generation_id}/w0rk3r-thumb.webp")
    with app.app_context():
        for key in worker_keys:
            get_storage().put(key, b"image:" + key.encode(), public=True, content_type="image/png")
    done = client.open(
        "/api/webhooks/inference/complete",
        method="POST",
        csrf=False,
        headers=HEADERS,
        json={"generation_id": generation_id, "result_key": worker_keys[0], "thumbnail_key": worker_keys[1]},
    )
    assert done.status_code == 200 and done.get_json()["data"]["status"] == "completed", done.get_json()
    return SimpleNamespace(id=generation_id, worker_keys=worker_keys)


def shown(client, generation_id):
    response = client.get(f"/api/generations/{generation_id}")
    assert "no-store" in response.headers["Cache-Control"]  # (it carries signed URLs)
    return response


def fetch(client, url):
    """GET a media URL: through the test client for /media, over HTTP for S3."""
    if url.startswith("/"):
        parts = urlsplit(url)
        response = client.get(parts.path, query_string=parts.query)
        return SimpleNamespace(status=response.status_code, body=response.data, headers=response.headers)
    response = requests.get(url, timeout=10)
    return SimpleNamespace(status=response.status_code, body=response.content, headers=response.headers)


def check_private_image_flow(app, client, make_client, login):
    image = deliver(app, client, login)
    data = shown(client, image.id).get_json()["data"]
    assert data["is_public"] is False
    private_url = data["result_url"]
    assert "/private/" in private_url and ("signature=" in private_url or "Signature=" in private_url)
    got = fetch(client, private_url)
    assert got.status == 200 and got.body.startswith(b"image:")
    assert "private" in got.headers.get("Cache-Control", "")
    # The worker's public copies (their keys are in the job payload) are gone after delivery.
    with app.app_context():
        storage = get_storage()
        assert not any(storage.exists(key, public=True) for key in image.worker_keys)
        assert fetch(client, storage.public_url(image.worker_keys[0])).status in (403, 404)
        if private_url.startswith("/"):  # (moto does not enforce presigned expiry; S3 does)
            key = private_url.split("/private/", 1)[1].split("?")[0]
            assert fetch(client, storage.private_url(key, expires_in=-10)).status == 403
    # Nobody else sees it, by id or in a list.
    stranger = make_client()
    login(stranger, "stranger")
    assert stranger.get(f"/api/generations/{image.id}").status_code == 404

    # Public: a plain public URL; the private copy is gone.
    assert client.patch(f"/api/generations/{image.id}", json={"is_public": True}).status_code == 200
    public_url = shown(client, image.id).get_json()["data"]["result_url"]
    assert "/private/" not in public_url
    assert fetch(client, public_url).status == 200
    assert fetch(client, private_url).status in (403, 404)
    assert stranger.get(f"/api/generations/{image.id}").status_code == 200

    # Private again: the public URL someone remembered stops working at once.
    assert client.patch(f"/api/generations/{image.id}", json={"is_public": False}).status_code == 200
    assert fetch(client, public_url).status in (403, 404)
    again = shown(client, image.id).get_json()["data"]["result_url"]
    assert "/private/" in again and fetch(client, again).status == 200
    assert stranger.get(f"/api/generations/{image.id}").status_code == 404
    # The owner's notification shows the picture through a signed URL too.
    notes = client.get("/api/notifications").get_json()["data"]["results"]
    thumbs = [n["target"]["thumbnail_url"] for n in notes if n.get("target") and n["target"].get("thumbnail_url")]
    assert thumbs and all("/private/" in url for url in thumbs)


def test_private_images_on_local_storage(app, client, make_client, login):
    check_private_image_flow(app, client, make_client, login)


@pytest.fixture(scope="module")
def fake_s3():
    with FakeS3() as fake:
        yield fake


def test_private_images_on_s3(fake_s3, database_url, tmp_path, login, monkeypatch):
    from stylelicense.app import create_app
    from stylelicense.storage import storage_from_env

    for name, value in fake_s3.env().items():
        monkeypatch.setenv(name, value)  # boto3 reads its credentials from the environment
    fake_s3.reset()
    fake_s3.create_bucket("sl-private")
    env = {"STORAGE_URL": "s3://sl-private/prod", **fake_s3.env()}
    storage = storage_from_env(env)
    storage.client.put_bucket_policy(Bucket="sl-private", Policy=json.dumps(storage.public_read_policy()))
    app = create_app(env=base_env(tmp_path, database_url, **env))
    app.test_client_class = ApiClient
    check_private_image_flow(app, app.test_client(), app.test_client, login)


def test_job_payloads_carry_no_media_url(app, client, login):
    """What Flower shows of a generation job: keys and public pages, never a media URL that would
    outlive the job (signed or public)."""
    from kombu import Connection

    with app.app_context():
        artist = factories.create_artist("painter", "Painter Pat")
        style = factories.create_style(artist, title="Ink Wash", lora_key="styles/1/lora.safetensors")
        db.session.commit()
        style_id = style.id
    with Connection("memory://") as connection:
        connection.SimpleQueue("image_generation").clear()
    login(client, "owner")
    assert client.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["cat"]}).status_code == 201
    with Connection("memory://") as connection:
        queue = connection.SimpleQueue("image_generation")
        message = queue.get(timeout=5)
        text = json.dumps(message.payload)
        message.ack()
        queue.close()
    assert "/media/" not in text and "signature=" not in text and "X-Amz-" not in text
