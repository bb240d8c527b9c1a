"""SPEC §13 Titles: a style's title is free text in any language; its tag comes from the optional
English `trigger` (or the title when it is English), otherwise there is none — and the LoRA still
gets a trigger word of its own."""

from __future__ import annotations

from stylelicense.extensions import db
from stylelicense.styles.models import Style
from tests.test_styles_helpers import post_style, queued_training_jobs


def _job(style_id: int) -> dict:
    return next(job["payload"] for job in queued_training_jobs() if job["payload"]["style_id"] == style_id)


def test_a_korean_title_is_accepted_and_gives_no_tag(app, client, make_artist):
    make_artist(client, "hana")
    queued_training_jobs()
    response = post_style(client, title="수채화의 꿈", image_tags=[["watercolor"]] * 10)
    assert response.status_code == 201, response.get_json()
    style = response.get_json()["data"]
    assert style["title"] == "수채화의 꿈"
    assert style["tags"] == ["watercolor"]  # only the images' own tags
    job = _job(style["id"])
    assert job["trigger"] == f"sls{style['id']}"  # the LoRA's own word, not a tag
    assert all(image["tags"] == ["watercolor"] for image in job["images"])
    with app.app_context():
        assert db.session.get(Style, style["id"]).trigger == f"sls{style['id']}"


def test_an_english_trigger_becomes_the_tag_of_a_korean_title(app, client, make_artist):
    make_artist(client, "jisu")
    queued_training_jobs()
    response = post_style(client, title="밤의 시장", trigger="Night Market", image_tags=[["lanterns"]] * 10)
    assert response.status_code == 201, response.get_json()
    style = response.get_json()["data"]
    assert set(style["tags"]) == {"night market", "lanterns"}
    assert _job(style["id"])["trigger"] == "night market"


def test_a_trigger_that_is_not_english_is_refused_on_its_field(app, client, make_artist):
    make_artist(client, "minji")
    response = post_style(client, title="밤의 시장", trigger="야시장")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["fields"][0]["field"] == "trigger"
    assert error["details"]["fields"][0]["type"] == "tag_not_english"


def test_an_english_title_is_still_the_tag(app, client, make_artist):
    make_artist(client, "ella")
    response = post_style(client, title="Harbor Mornings", image_tags=[["boats"]] * 10)
    assert response.status_code == 201
    assert set(response.get_json()["data"]["tags"]) == {"harbor mornings", "boats"}
