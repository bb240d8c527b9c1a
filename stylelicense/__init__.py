"""Style License: the web API (feature packages) and the Flask-free shared layer (storage, provenance
primitives, job payloads, text cleaning) that the GPU workers import too.

Kept light on purpose: importing ``stylelicense`` (or any shared module) must not import Flask or build
an app. The application factory is :func:`stylelicense.app.create_app`.
"""
