"""Inference webhooks."""

from .blueprint import bp  # noqa: F401
