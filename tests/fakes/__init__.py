"""Loopback fakes of the third-party services the app talks to (no network in tests).

- :class:`tests.fakes.oidc_provider.FakeOIDCProvider` — Google OpenID Connect (code flow + PKCE).
- :class:`tests.fakes.toss_server.FakeToss` — Toss Payments core API v1.
- :class:`tests.fakes.s3_server.FakeS3` — S3 (moto server mode).

Import the submodules directly; this package imports nothing so that, e.g., a test using only
Toss does not pay for importing moto.
"""
