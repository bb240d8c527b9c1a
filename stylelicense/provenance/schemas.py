"""Shapes of the licence certificate, the verify API and the worker's provenance report."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..api import Schema

MAX_HASH = 2**64 - 1
Hash64 = Annotated[int, Field(ge=0, le=MAX_HASH)]


class ProvenanceReport(Schema):
    """What the inference worker reports about the file it stored (in the complete webhook)."""

    serial: int = Field(gt=0, le=2**63 - 1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    phash: int = Field(ge=0, le=MAX_HASH)
    dhash: int = Field(ge=0, le=MAX_HASH)
    windows: list[tuple[Hash64, Hash64]] = Field(
        default_factory=list, max_length=64, description="(phash, dhash) of sub-windows, to find crops"
    )
    c2pa: bool = Field(False, description="Whether the file carries a C2PA manifest")


class TermsOut(Schema):
    version: str
    effective: str
    document: str
    url: str
    permissions: list[str]
    requirements: list[str]
    prohibitions: list[str]


class NamedRef(Schema):
    id: int
    name: str


class CertificateOut(Schema):
    serial: str = Field(description="Public form, SL-XXXX-XXXX-XXXX-XXXX")
    status: Literal["valid"]
    issued_at: str | None
    terms: TermsOut
    artist: NamedRef
    style: NamedRef
    generation_id: int
    licensed_to: str | None = Field(description="The licensee's username when the licence was issued")
    is_public: bool
    thumbnail_url: str | None
    sha256: str
    certificate_url: str


class VerifyLicenceOut(Schema):
    serial: str
    certificate_url: str
    artist: NamedRef
    style: NamedRef
    terms_version: str


class VerifyOut(Schema):
    verdict: Literal["verified", "derived", "unknown"]
    confidence: float = Field(description="1.0 = proven; for a copy, the share of the mark's bits that agree")
    licence: VerifyLicenceOut | None = Field(description="Only when the licence is public or the caller's own")
    private_licence: bool = Field(description="A licence exists but its certificate is private")
    method: str | None = Field(None, description="Signed-in callers only: c2pa | sha256 | watermark | …")
    c2pa: dict | None = Field(None, description="Signed-in callers only: what the file's manifest said")
