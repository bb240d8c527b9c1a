"""The artist's own views: the earnings dashboard (SPEC §13)."""
