"""Job payload types and task names: the contract between the API (enqueues) and the workers (run).

Shared layer: imported by both sides, so it imports nothing of Flask or the web app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TRAIN_STYLE = "workers.tasks.train_style"
GENERATE_IMAGE = "workers.tasks.generate_image"


@dataclass(frozen=True)
class TrainStylePayload:
    """Everything the training worker needs; it has no database access."""

    style_id: int
    trigger: str  # the style title, lowercased: prefixed to every caption
    images: list[dict]  # [{"key": training copy key (private), "tags": [...]}]
    lora_key: str  # where to store the LoRA (private)
    max_steps: int | None = None
    # For the preview samples, signed like any output (optional: older messages lack them).
    artist_name: str | None = None
    style_title: str | None = None
    signature_key: str | None = None
    licence_url: str | None = None
    terms_version: str | None = None


def display_key_for(result_key: str) -> str:
    """Where the web-sized display copy (WebP) of a signed result is stored: next to the PNG."""
    return f"{result_key.rsplit('.', 1)[0]}-display.webp"


@dataclass(frozen=True)
class GenerateImagePayload:
    generation_id: int
    style_id: int
    lora_key: str
    trigger: str
    prompt_tags: list[str]
    width: int
    height: int
    seed: int
    artist_name: str
    style_title: str
    signature_key: str | None
    result_key: str
    thumbnail_key: str
    licence_url: str
    extra: dict = field(default_factory=dict)
    # Provenance (stylelicense.provenance): the licence serial the worker writes into the image.
    licence_serial: int | None = None
    terms_version: str | None = None
    certificate_url: str | None = None

    @property
    def display_key(self) -> str:
        return display_key_for(self.result_key)
