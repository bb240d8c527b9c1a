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


def _styles(data):
    return [(hit["title"], hit["matched_by"]) for hit in data["styles"]]


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
    data = _search(client, "ink", type="styles")
    assert _styles(data) == [
        ("Ink", "name"),  # exact title
        ("Inkwell Sketches", "name"),  # prefix of the title (popular)
        ("Pinky Clouds", "tag"),  # prefix of the tag "ink wash": a prefix, but by tag
        ("Blue Ink", "name"),  # substring of the title
    ]
    assert data["artists"] == []  # not asked for: an empty list


def test_matched_tag_and_case_insensitivity(client, catalog):
    data = _search(client, "  OCEAN ", type="styles")
    assert [(h["id"], h["matched_by"], h["matched_tag"]) for h in data["styles"]] == [
        (catalog["blue_ink"], "tag", "ocean")
    ]
    hit = data["styles"][0]
    assert hit["artist"]["artist_name"] == "Blue Studio" and hit["artist"]["user_id"]
    assert "ocean" in hit["tags"] and hit["training_status"] == "completed"


def test_only_completed_styles_of_active_artists(client, catalog):
    titles = [hit["title"] for hit in _search(client, "ink", type="styles")["styles"]]
    assert "Ink In Progress" not in titles and "Ink Departed" not in titles
    artists = [hit["username"] for hit in _search(client, "lea", type="artists")["artists"]]
    assert "leaver" not in artists


def test_artists_by_artist_name_or_username(client, catalog):
    data = _search(client, "pink", type="artists")
    assert data["styles"] == []
    assert [(h["username"], h["artist_name"], h["matched_by"]) for h in data["artists"]] == [
        ("pinkartist", "Pinky", "name")
    ]
    assert set(data["artists"][0]) >= {
        "id",
        "username",
        "artist_name",
        "follower_count",
        "profile_image_url",
        "matched_by",
    }
    by_name = _search(client, "wells", type="artists")["artists"]
    assert [h["username"] for h in by_name] == ["wellartist"]
    assert _search(client, "inkfan", type="artists")["artists"] == []  # not an artist


def test_all_answers_both_lists_the_same_for_everyone(app, client, login, catalog):
    anonymous = _search(client, "ink")
    assert [h["title"] for h in anonymous["styles"]][:1] == ["Ink"]  # exact title first
    assert [h["username"] for h in anonymous["artists"]] == ["inkmaster", "pinkartist"]  # prefix, then substring
    with seeded(app):
        from stylelicense.users.models import User

        fan = create_user("fan")
        create_follow(fan, db.session.scalar(db.select(User).where(User.username == "inkmaster")))
    login(client, "fan")
    signed_in = _search(client, "ink")
    # Nothing viewer-specific in a search answer (it is served from the public cache).
    assert signed_in["styles"] == anonymous["styles"]
    assert [h["username"] for h in signed_in["artists"]] == ["inkmaster", "pinkartist"]
    assert all("is_following" not in hit for hit in signed_in["artists"])


def test_short_queries_match_prefixes_only(client, catalog):
    assert _styles(_search(client, "in", type="styles")) == [
        ("Inkwell Sketches", "name"),
        ("Ink", "name"),
        ("Pinky Clouds", "tag"),
    ]  # "ink wash" starts with "in"
    assert "Blue Ink" not in [t for t, _ in _styles(_search(client, "in", type="styles"))]
    assert _search(client, "nk", type="styles")["styles"] == []  # no substring below 3 characters


def test_limit_caps_each_list(app, client):
    with seeded(app):
        for i in range(7):
            create_style(create_artist(f"moon{i}", f"Moon {i}"), title=f"Moonlight {i}", generation_count=i)
    data = _search(client, "moon", limit=3)
    assert len(data["styles"]) == 3 and len(data["artists"]) == 3
    # The most used styles first (equal rank: prefix of the title).
    assert [h["title"] for h in data["styles"]] == ["Moonlight 6", "Moonlight 5", "Moonlight 4"]
    everything = _search(client, "moon", limit=50)
    assert len(everything["styles"]) == len(everything["artists"]) == 7


@pytest.mark.parametrize("command", [["flag"], ["deactivate"]])
def test_flagged_or_inactive_tags_are_not_matched(app, client, catalog, command):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["tags", *command, "ocean"])
    assert result.exit_code == 0, result.output
    assert _search(client, "ocean", type="styles")["styles"] == []
    blue = _search(client, "blue ink", type="styles")["styles"]
    assert blue and "ocean" not in blue[0]["tags"]  # not shown on the card either
    undo = {"flag": "unflag", "deactivate": "activate"}[command[0]]
    assert runner.invoke(args=["tags", undo, "OCEAN"]).exit_code == 0
    assert len(_search(client, "ocean", type="styles")["styles"]) == 1


def test_a_flagged_title_tag_hides_the_title_match(app, client, catalog):
    assert app.test_cli_runner().invoke(args=["tags", "flag", "pinky", "clouds"]).exit_code == 0
    assert _search(client, "pinky clouds", type="styles")["styles"] == []


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
    for q in ("%", "_", "i_k", "in%", "/"):
        assert _search(client, q) == {"styles": [], "artists": []}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 101},
        {"q": "ink", "type": "tags"},
        {"q": "ink", "limit": 51},
        {"q": "ink", "limit": 0},
        {"q": "ink", "cursor": "abc"},
        {"q": "ink", "sort": "new"},
    ],
)
def test_invalid_queries_are_422(client, params):
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_query_of_100_characters_is_accepted(client, catalog):
    assert _search(client, "i" * 100) == {"styles": [], "artists": []}
