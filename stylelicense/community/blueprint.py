"""Routes of the community feature (routes only: parse, call operations, respond).

Follows: ``POST/DELETE /api/users/:id/follow`` (``:id`` is the artist's user id),
``GET /api/users/me/following``. Likes: ``POST/DELETE /api/generations/:id/like`` (a second like
is 409 CONFLICT). Comments: ``GET/POST /api/generations/:id/comments`` (top-level newest first, replies
oldest first), ``PATCH/DELETE /api/comments/:id`` (author only).
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..api import PageQuery, created, endpoint, ok
from . import operations
from .schemas import CommentBody, CommentDeletedOut, CommentOut, CommentPatch, FollowingOut, FollowOut, LikeOut

bp = Blueprint("community", __name__, url_prefix="/api")


def _me():
    return current_user._get_current_object()


@bp.post("/users/<int:user_id>/follow")
@endpoint(auth="login", response=FollowOut, status=201, summary="Follow an artist")
def follow(user_id: int):
    return created(operations.follow_artist(_me(), user_id))


@bp.delete("/users/<int:user_id>/follow")
@endpoint(auth="login", response=FollowOut, summary="Unfollow an artist")
def unfollow(user_id: int):
    return ok(operations.unfollow_artist(_me(), user_id))


@bp.get("/users/me/following")
@endpoint(
    auth="login",
    query=PageQuery,
    response=FollowingOut,
    paginated=True,
    summary="Artists I follow, most recently followed first",
)
def following(query: PageQuery):
    return ok(operations.list_following(_me(), query))


@bp.post("/generations/<int:generation_id>/like")
@endpoint(auth="login", response=LikeOut, status=201, summary="Like a public image (once)")
def like(generation_id: int):
    return created(operations.like_generation(_me(), generation_id))


@bp.delete("/generations/<int:generation_id>/like")
@endpoint(auth="login", response=LikeOut, summary="Remove my like")
def unlike(generation_id: int):
    return ok(operations.unlike_generation(_me(), generation_id))


@bp.get("/generations/<int:generation_id>/comments")
@endpoint(
    query=PageQuery,
    response=CommentOut,
    paginated=True,
    summary="Comments of an image: top-level newest first, each with its replies oldest first",
)
def comments(generation_id: int, query: PageQuery):
    return ok(operations.list_comments(generation_id, _me(), query))


@bp.post("/generations/<int:generation_id>/comments")
@endpoint(
    auth="login",
    body=CommentBody,
    response=CommentOut,
    status=201,
    summary="Comment on an image, or reply to a top-level comment with parent_id",
)
def add_comment(generation_id: int, body: CommentBody):
    return created(operations.add_comment(_me(), generation_id, body.body, body.parent_id))


@bp.patch("/comments/<int:comment_id>")
@endpoint(auth="login", body=CommentPatch, response=CommentOut, summary="Edit my comment")
def edit_comment(comment_id: int, body: CommentPatch):
    return ok(operations.edit_comment(_me(), comment_id, body.body))


@bp.delete("/comments/<int:comment_id>")
@endpoint(auth="login", response=CommentDeletedOut, summary="Delete my comment")
def delete_comment(comment_id: int):
    return ok(operations.delete_comment(_me(), comment_id))
