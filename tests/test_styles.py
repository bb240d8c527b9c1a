"""Styles API: creating a style from uploads (storage, rows, tags, the queued training job), listing,
detail visibility, editing, and one style per artist under concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import BytesIO

from PIL import Image
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.models import utcnow
from stylelicense.styles.models import Artwork, Style
from stylelicense.tags.models import Tag
from tests import factories
from tests.test_styles_helpers import (
    image_bytes,
    post_style,
    queued_training_jobs,
    row_counts,
    storage_root,
    stored_files,
    style_form,
    upload_images,
)


def _exif_rotated_jpeg(width: int, height: int) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90°": upright it is portrait."""
    image = Image.new("RGB", (width, height), (40, 90, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    buffer = BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_create_style_stores_everything_and_queues_training(app, client, make_artist):
    me = make_artist(client, "mina", "Mina Park")
    queued_training_jobs()  # start from an empty queue
    before = stored_files(app)
    uploads = upload_images(9) + [_exif_rotated_jpeg(800, 600)]
    names = [f"art-{i}.png" for i in range(9)] + ["photo.jpg"]
    response = post_style(
        client,
        uploads,
        names=names,
        title="Watercolor Dreams!",
        description="<p>Soft <b>washes</b> &amp; <script>alert(1)</script>light</p>",
        price=40,
    )

    assert response.status_code == 201, response.get_json()
    style = response.get_json()["data"]
    assert style["title"] == "Watercolor Dreams!"
    assert style["description"] == "Soft washes & light"
    assert style["generation_cost_tokens"] == 40
    assert style["training_status"] == "pending" and style["progress"] is None
    assert style["artist"] == {"id": me["id"], "artist_name": "Mina Park"}
    assert style["generations_count"] == 0
    # the title is a tag of every image; image tags are lowercased, deduplicated and aggregated
    assert set(style["tags"]) == {"watercolor dreams", "forest", "soft light", "portrait"}

    new_files = stored_files(app) - before
    private = sorted(f for f in new_files if f.startswith("private/"))
    public = sorted(f for f in new_files if f.startswith("public/"))
    assert len(private) == 20  # 10 originals + 10 training copies, all private
    assert len(public) == 1 and style["thumbnail_url"].endswith(public[0].removeprefix("public/"))
    root = storage_root(app)
    with Image.open(root / public[0]) as thumb:
        assert thumb.size == (256, 256)

    with app.app_context():
        row = db.session.get(Style, style["id"])
        assert row.trigger == "watercolor dreams"
        artworks = db.session.scalars(select(Artwork).where(Artwork.style_id == row.id).order_by(Artwork.id)).all()
        assert len(artworks) == 10
        for artwork in artworks:
            assert {t.name for t in artwork.tags} >= {"watercolor dreams", "forest"}
            with Image.open(root / "private" / artwork.training_key) as copy:
                assert min(copy.size) == 512 and copy.format == "JPEG"
            assert (root / "private" / artwork.image_key).is_file()
        # EXIF orientation applied before anything was stored: the photo is upright (portrait)
        photo = artworks[-1]
        assert (photo.width, photo.height) == (600, 800)
        with Image.open(root / "private" / photo.image_key) as original:
            assert original.size == (600, 800) and not original.getexif().get(0x0112)
        usage = {t.name: t.usage_count for t in db.session.scalars(select(Tag))}
        # 10 artworks + the style itself
        assert usage["watercolor dreams"] == 11 and usage["forest"] == 11
        assert usage["portrait"] == 6 and usage["soft light"] == 6
        db.session.remove()

    jobs = queued_training_jobs()
    assert len(jobs) == 1
    job = jobs[0]
    assert job["task"] == "workers.tasks.train_style"
    payload = job["payload"]
    assert payload["style_id"] == style["id"] and payload["trigger"] == "watercolor dreams"
    assert payload["lora_key"] == f"styles/{style['id']}/lora/pytorch_lora_weights.safetensors"
    assert [image["key"] for image in payload["images"]] == [a.training_key for a in artworks]
    assert payload["images"][0]["tags"] == ["forest", "portrait"] or set(payload["images"][0]["tags"]) == {
        "portrait",
        "forest",
    }
    assert "watercolor dreams" not in payload["images"][0]["tags"]  # the trigger prefixes captions anyway


def test_image_tags_are_optional_and_title_still_tags_every_image(app, client, make_artist):
    make_artist(client, "ona")
    form = style_form(title="Ink Lines")
    del form["image_tags"]
    response = client.post("/api/styles", data=form, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["data"]["tags"] == ["ink lines"]


def test_detail_progress_and_visibility(app, client, make_client, make_artist, login):
    make_artist(client, "owner1")
    style_id = post_style(client, title="Night Owls").get_json()["data"]["id"]
    stranger = make_client()
    login(stranger, "stranger")
    anonymous = make_client()

    # pending: only the owner sees it
    assert client.get(f"/api/styles/{style_id}").status_code == 200
    for other in (stranger, anonymous):
        response = other.get(f"/api/styles/{style_id}")
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "NOT_FOUND"

    with app.app_context():
        style = db.session.get(Style, style_id)
        style.training_status = "training"
        style.progress = {
            "current_epoch": 3,
            "total_epochs": 10,
            "progress_percent": 30,
            "estimated_seconds": 70,
            "last_updated": "2030-01-01T00:00:00Z",
            "run_id": "abc",
        }
        db.session.commit()
    data = client.get(f"/api/styles/{style_id}").get_json()["data"]
    assert data["progress"] == {
        "current_epoch": 3,
        "total_epochs": 10,
        "progress_percent": 30,
        "estimated_seconds": 70,
        "last_updated": "2030-01-01T00:00:00Z",
    }
    assert stranger.get(f"/api/styles/{style_id}").status_code == 404

    with app.app_context():
        style = db.session.get(Style, style_id)
        style.training_status = "completed"
        db.session.commit()
    for viewer in (client, stranger, anonymous):
        data = viewer.get(f"/api/styles/{style_id}").get_json()["data"]
        assert data["training_status"] == "completed" and data["progress"] is None
    assert anonymous.get("/api/styles/999999").status_code == 404


def test_my_styles_lists_every_state_for_the_artist_only(app, client, make_client, login, make_artist):
    make_artist(client, "maker")
    style_id = post_style(client).get_json()["data"]["id"]
    page = client.get("/api/styles/me").get_json()["data"]
    assert [s["id"] for s in page["results"]] == [style_id]
    assert page["results"][0]["training_status"] == "pending"
    plain = make_client()
    login(plain, "plainuser")
    response = plain.get("/api/styles/me")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "ARTIST_ONLY"
    assert make_client().get("/api/styles/me").status_code == 401


def test_list_recent_popular_tag_and_cursor(app, client):
    with app.app_context():
        now = utcnow()
        a = factories.create_style(
            title="Alpha", tags=["forest"], generation_count=5, created_at=now - timedelta(days=3)
        )
        b = factories.create_style(title="Beta", tags=["sea"], generation_count=9, created_at=now - timedelta(days=2))
        c = factories.create_style(
            title="Gamma", tags=["forest"], generation_count=5, created_at=now - timedelta(days=1)
        )
        factories.create_style(title="Pending", status="pending", tags=["forest"])
        factories.create_style(title="Failed", status="failed")
        gone = factories.create_artist("gone", is_active=False)
        factories.create_style(gone, title="Hidden", tags=["forest"])
        flagged = factories.create_style(title="Flagged", tags=["secret"])
        db.session.execute(Tag.__table__.update().where(Tag.name == "secret").values(is_active=False))
        ids = {s.title: s.id for s in (a, b, c, flagged)}
        db.session.commit()

    recent = client.get("/api/styles").get_json()["data"]
    assert [s["title"] for s in recent["results"]] == ["Flagged", "Gamma", "Beta", "Alpha"]
    popular = client.get("/api/styles?sort=popular").get_json()["data"]
    # most generations first, ties by newest
    assert [s["title"] for s in popular["results"]][:3] == ["Beta", "Gamma", "Alpha"]
    forest = client.get("/api/styles?tag=Forest").get_json()["data"]
    assert [s["title"] for s in forest["results"]] == ["Gamma", "Alpha"]
    assert client.get("/api/styles?tag=secret").get_json()["data"]["results"] == []
    assert "secret" not in client.get(f"/api/styles/{ids['Flagged']}").get_json()["data"]["tags"]

    first = client.get("/api/styles?sort=popular&limit=2").get_json()["data"]
    assert first["has_more"] is True
    second = client.get(f"/api/styles?sort=popular&limit=2&cursor={first['next_cursor']}").get_json()["data"]
    assert [s["title"] for s in first["results"] + second["results"]] == [s["title"] for s in popular["results"]]
    assert second["has_more"] is False

    bad = client.get("/api/styles?sort=best")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_patch_owner_only(app, client, make_client, login, make_artist):
    make_artist(client, "editor")
    style_id = post_style(client, title="Old Name").get_json()["data"]["id"]
    with app.app_context():
        db.session.get(Style, style_id).training_status = "completed"
        db.session.commit()

    response = client.patch(
        f"/api/styles/{style_id}",
        json={"title": "New Name", "generation_cost_tokens": 99, "description": "<i>now</i> with <b>more</b>"},
    )
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert (data["title"], data["generation_cost_tokens"], data["description"]) == ("New Name", 99, "now with more")
    assert "new name" in data["tags"] and "old name" in data["tags"]
    with app.app_context():
        assert db.session.get(Style, style_id).trigger == "old name"  # the LoRA was trained with it
        db.session.remove()

    for body in (
        {"generation_cost_tokens": 0},
        {"generation_cost_tokens": 10_001},
        {"title": ""},
        {},
        {"lora_key": "x"},
    ):
        response = client.patch(f"/api/styles/{style_id}", json=body)
        assert response.status_code == 422, body

    other = make_client()
    make_artist(other, "rival")
    response = other.patch(f"/api/styles/{style_id}", json={"generation_cost_tokens": 1})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "FORBIDDEN"
    plain = make_client()
    login(plain, "plain2")
    assert plain.patch(f"/api/styles/{style_id}", json={"title": "Mine"}).status_code == 403
    assert other.patch("/api/styles/424242", json={"title": "x"}).status_code == 404
    assert make_client().patch(f"/api/styles/{style_id}", json={"title": "x"}).status_code == 401
    assert client.get(f"/api/styles/{style_id}").get_json()["data"]["generation_cost_tokens"] == 99


def test_patch_of_an_untrained_style_by_another_artist_is_not_found(client, make_client, make_artist):
    make_artist(client, "secretive")
    style_id = post_style(client).get_json()["data"]["id"]
    other = make_client()
    make_artist(other, "nosy")
    response = other.patch(f"/api/styles/{style_id}", json={"title": "x"})
    assert response.status_code == 404


def test_two_concurrent_posts_create_one_style(app, make_client, make_artist, login):
    """The artist row lock: two simultaneous uploads of one artist, exactly one style and its files."""
    first = make_client()
    make_artist(first, "twin")
    second = make_client()
    login(second, "twin")  # the same artist signed in twice
    forms = [style_form(upload_images(10)), style_form(upload_images(10), title="Other Title")]
    before_files = stored_files(app)
    before_rows = row_counts(app)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def post(index: int, browser):
        barrier.wait()
        results[index] = browser.post("/api/styles", data=forms[index], content_type="multipart/form-data")

    threads = [threading.Thread(target=post, args=(i, c)) for i, c in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409], [r.get_json() for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.get_json()["error"]["code"] == "STYLE_LIMIT_REACHED"
    assert row_counts(app)["styles"] == before_rows["styles"] + 1
    assert row_counts(app)["artworks"] == before_rows["artworks"] + 10
    assert len(stored_files(app) - before_files) == 21


def test_image_upload_sizes_are_not_enlarged_and_png_transparency_is_kept(app, client, make_artist):
    make_artist(client, "alpha")
    transparent = Image.new("RGBA", (700, 512), (255, 0, 0, 0))
    buffer = BytesIO()
    transparent.save(buffer, "PNG")
    uploads = [buffer.getvalue()] + upload_images(9, width=512, height=512)
    response = post_style(client, uploads)
    assert response.status_code == 201, response.get_json()
    root = storage_root(app)
    with app.app_context():
        artworks = db.session.scalars(
            select(Artwork).where(Artwork.style_id == response.get_json()["data"]["id"]).order_by(Artwork.id)
        ).all()
        with Image.open(root / "private" / artworks[0].image_key) as original:
            assert original.format == "PNG" and original.mode == "RGBA" and original.size == (700, 512)
        with Image.open(root / "private" / artworks[0].training_key) as copy:
            assert copy.size == (700, 512) and copy.mode == "RGB"
            assert copy.getpixel((10, 10))[:3] == (255, 255, 255) or min(copy.getpixel((10, 10))) > 240
        with Image.open(root / "private" / artworks[1].training_key) as copy:
            assert copy.size == (512, 512)
        db.session.remove()


def test_jpeg_upload_stays_jpeg(app, client, make_artist):
    make_artist(client, "jay")
    uploads = [image_bytes(640, 640, (10, 200, 30), fmt="JPEG") for _ in range(10)]
    response = post_style(client, uploads, names=[f"{i}.jpg" for i in range(10)])
    assert response.status_code == 201
    with app.app_context():
        artwork = db.session.scalars(
            select(Artwork).where(Artwork.style_id == response.get_json()["data"]["id"])
        ).first()
        assert artwork.image_key.endswith(".jpg")
        with Image.open(storage_root(app) / "private" / artwork.image_key) as original:
            assert original.format == "JPEG"
        db.session.remove()


def test_styles_and_training_webhooks_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/styles"])
    assert "multipart/form-data" in paths["/api/styles"]["post"]["requestBody"]["content"]
    assert {"get", "patch"} <= set(paths["/api/styles/{style_id}"])
    assert "get" in paths["/api/styles/me"]
    assert "patch" in paths["/api/webhooks/training/progress"]
    assert "post" in paths["/api/webhooks/training/complete"] and "post" in paths["/api/webhooks/training/failed"]
