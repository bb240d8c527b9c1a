"""Licences and provenance: licence records, certificates, the verify API (pure helpers live in serials.py)."""
