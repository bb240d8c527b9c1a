"""Search: styles by tag or title, artists by artist name or username; ranking, visibility,
moderated tags (and the operator commands that moderate them), input validation, paging."""

from __future__ import annotations

import pytest
from factories import create_artist, create_follow, create_style, create_user, seeded

from stylelicense.extensions import db


def _search(client, q, **params):
    response = client.get("/api/search", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def _hits(data):
    return [(hit["type"], (hit["style"] or {}).get("title") if hit["type"] == "style" else
             hit["artist"]["artist"]["artist_name"], hit["matched_by"]) for hit in data["results"]]


@pytest.fixture
def catalog(app):
    with seeded(app):
        def style(username, artist_name, title, tags, generations=0, status="completed"):
            artist = create_artist(username, artist_name)
            created = create_style(artist, title=title, tags=tags, status=status, generation_count=generations)
            return created.id

        ids = {
            "ink": style("inkmaster", "Ink Master", "Ink", ["monochrome"], generations=1),
            "inkwell": style("wellartist", "Wells", "Inkwell Sketches", ["sketch"], generations=50),
            "blue_ink": style("blueartist", "Blue Studio", "Blue Ink", ["ocean"], generations=5),
            "pink": style("pinkartist", "Pinky", "Pinky Clouds", ["pastel", "ink wash"], generations=900),
            "training": style("trainee", "Trainee", "Ink In Progress", ["ink"], status="training"),
            "hidden": style("leaver", "Leaver", "Ink Departed", ["ink"]),
        }
        from stylelicense.users.models import User

        db.session.scalar(db.select(User).where(User.username == "leaver")).is_active = False
        create_user("inkfan")  # a plain user: never an artist hit
        return ids


def test_ranking_exact_then_prefix_then_substring_then_popularity(client, catalog):
    hits = _hits(_search(client, "ink", type="styles"))
    assert hits == [
        ("style", "Ink", "name"),  # exact title
        ("style", "Inkwell Sketches", "name"),  # prefix of the title (popular)
        ("style", "Pinky Clouds", "tag"),  # prefix of the tag "ink wash": a prefix, but by tag
        ("style", "Blue Ink", "name"),  # substring of the title
    ]


def test_matched_tag_and_case_insensitivity(client, catalog):
    data = _search(client, "  OCEAN ", type="styles")
    assert [(h["style"]["id"], h["matched_by"], h["matched_tag"]) for h in data["results"]] == [
        (catalog["blue_ink"], "tag", "ocean")]
    hit = data["results"][0]["style"]
    assert hit["artist"]["artist_name"] == "Blue Studio" and hit["artist"]["user_id"]
    assert "ocean" in hit["tags"] and hit["training_status"] == "completed"


def test_only_completed_styles_of_active_artists(client, catalog):
    titles = [hit["style"]["title"] for hit in _search(client, "ink", type="styles")["results"]]
    assert "Ink In Progress" not in titles and "Ink Departed" not in titles
    artists = [hit["artist"]["username"] for hit in _search(client, "lea", type="artists")["results"]]
    assert "leaver" not in artists


def test_artists_by_artist_name_or_username(client, login, catalog):
    data = _search(client, "pink", type="artists")
    assert [(h["artist"]["username"], h["matched_by"]) for h in data["results"]] == [("pinkartist", "name")]
    card = data["results"][0]["artist"]
    assert card["artist"]["artist_name"] == "Pinky" and card["style"]["title"] == "Pinky Clouds"
    assert card["is_following"] is False
    by_name = _search(client, "wells", type="artists")["results"]
    assert [h["artist"]["username"] for h in by_name] == ["wellartist"]
    assert _search(client, "inkfan", type="artists")["results"] == []  # not an artist


def test_all_mixes_styles_and_artists_and_shows_following(app, client, login, catalog):
    with seeded(app):
        from stylelicense.users.models import User

        fan = create_user("fan")
        create_follow(fan, db.session.scalar(db.select(User).where(User.username == "inkmaster")))
    login(client, "fan")
    data = _search(client, "ink")
    kinds = {hit["type"] for hit in data["results"]}
    assert kinds == {"style", "artist"}
    master = [h for h in data["results"] if h["type"] == "artist" and h["artist"]["username"] == "inkmaster"]
    assert master and master[0]["artist"]["is_following"] is True
    # Exact title "Ink" first; among equal scores styles come before artists.
    assert data["results"][0]["type"] == "style" and data["results"][0]["style"]["title"] == "Ink"


@pytest.mark.parametrize("command", [["flag"], ["deactivate"]])
def test_flagged_or_inactive_tags_are_not_matched(app, client, catalog, command):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tags", *command, "ocean"])
    assert result.exit_code == 0, result.output
    assert _search(client, "ocean", type="styles")["results"] == []
    blue = [h["style"] for h in _search(client, "blue ink", type="styles")["results"]]
    assert blue and "ocean" not in blue[0]["tags"]  # not shown on the card either
    undo = {"flag": "unflag", "deactivate": "activate"}[command[0]]
    assert runner.invoke(args=["tags", undo, "OCEAN"]).exit_code == 0
    assert len(_search(client, "ocean", type="styles")["results"]) == 1


def test_a_flagged_title_tag_hides_the_title_match(app, client, catalog):
    assert app.test_cli_runner().invoke(args=["tags", "flag", "pinky", "clouds"]).exit_code == 0
    assert _search(client, "pinky clouds", type="styles")["results"] == []


def test_tags_cli_list_and_unknown(app, catalog):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["tags", "flag", "ink wash"]).exit_code == 0
    listed = runner.invoke(args=["tags", "list", "--flagged"])
    assert listed.exit_code == 0 and "ink wash" in listed.output and "FLAGGED" in listed.output
    assert "ocean" not in listed.output
    everything = runner.invoke(args=["tags", "list", "--contains", "ink"]).output
    assert "ink wash" in everything and "inkwell sketches" in everything
    unknown = runner.invoke(args=["tags", "flag", "no-such-tag"])
    assert unknown.exit_code != 0 and "no tag" in unknown.output


def test_like_wildcards_are_literal(client, catalog):
    assert _search(client, "%")["results"] == []
    assert _search(client, "_")["results"] == []
    assert _search(client, "i_k")["results"] == []


def test_paging_through_results_is_complete_and_stable(app, client):
    with seeded(app):
        for i in range(7):
            create_style(create_artist(f"moon{i}", f"Moon {i}"), title=f"Moonlight {i}", generation_count=i % 3)
    seen, cursor = [], None
    while True:
        data = _search(client, "moon", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [(hit["type"], hit["style"]["id"] if hit["type"] == "style" else hit["artist"]["id"])
                 for hit in data["results"]]
        if not data["has_more"]:
            break
        cursor = data["next_cursor"]
    everything = _search(client, "moon", limit=100)["results"]
    assert len(seen) == len(set(seen)) == len(everything) == 14


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "ink", "type": "tags"},
                                    {"q": "ink", "limit": 101}, {"q": "ink", "cursor": "%%%"},
                                    {"q": "ink", "sort": "new"}])
def test_invalid_queries_are_422(client, params):
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_query_of_100_characters_is_accepted(client, catalog):
    assert _search(client, "i" * 100)["results"] == []
