"""The tiny offline pipeline and the model loading path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

from workers.pipelines import base_model
from workers.pipelines.base_model import (
    LORA_RANK,
    LORA_TARGET_MODULES,
    TINY,
    ensure_tiny_model,
    load_pipeline,
)


def test_tiny_model_is_saved_in_the_cache_dir(tiny_model_dir: Path) -> None:
    assert tiny_model_dir == Path(os.environ["STYLELICENSE_MODEL_CACHE"])
    assert (tiny_model_dir / "model_index.json").is_file()
    for part in ("unet", "vae", "text_encoder"):
        assert list((tiny_model_dir / part).glob("*.safetensors")), part
    assert (tiny_model_dir / "tokenizer").is_dir()
    # Atomic save: no temp dirs left next to the cache.
    assert [p.name for p in tiny_model_dir.parent.iterdir()] == [tiny_model_dir.name]


def test_tiny_model_is_built_once(tiny_model_dir: Path) -> None:
    marker = tiny_model_dir / "unet" / "config.json"
    before = marker.stat().st_mtime_ns
    assert ensure_tiny_model() == tiny_model_dir
    assert marker.stat().st_mtime_ns == before


def test_tiny_pipeline_loads_from_the_cache_with_from_pretrained(
    tiny_pipeline: StableDiffusionPipeline, tiny_model_dir: Path
) -> None:
    assert Path(tiny_pipeline.name_or_path) == tiny_model_dir
    assert isinstance(tiny_pipeline.scheduler, DPMSolverMultistepScheduler)
    assert tiny_pipeline.safety_checker is None
    assert tiny_pipeline.unet.config.block_out_channels == (32, 64) or list(
        tiny_pipeline.unet.config.block_out_channels
    ) == [32, 64]
    assert tiny_pipeline.device.type == "cpu"
    assert tiny_pipeline.unet.dtype == torch.float32
    # Latents are 1/8 of the image, like SD 1.5.
    assert tiny_pipeline.vae_scale_factor == 8


def test_tiny_tokenizer_distinguishes_prompts(tiny_pipeline: StableDiffusionPipeline) -> None:
    tok = tiny_pipeline.tokenizer
    assert tok.model_max_length == 77
    a = tok("inkwash style, cat").input_ids
    b = tok("inkwash style, dog").input_ids
    assert a != b
    assert tok.unk_token_id not in a[1:-1]  # every character is in the vocabulary (unk == eos here)
    assert max(a) < tiny_pipeline.text_encoder.config.vocab_size


def test_tiny_pipeline_generates_requested_size(tiny_pipeline: StableDiffusionPipeline) -> None:
    image = tiny_pipeline(
        "a cat", num_inference_steps=2, width=64, height=128, generator=torch.Generator().manual_seed(0)
    ).images[0]
    assert image.size == (64, 128)


def test_other_models_are_never_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STYLELICENSE_ALLOW_MODEL_DOWNLOAD", raising=False)
    with pytest.raises(OSError):
        load_pipeline("stylelicense-test/does-not-exist", device="cpu")


def test_defaults_on_cpu() -> None:
    assert base_model.default_dtype("cpu") == torch.float32
    assert base_model.default_dtype("cuda") == torch.float16
    assert TINY == "tiny"
    assert LORA_RANK == 16
    assert LORA_TARGET_MODULES == ["to_k", "to_q", "to_v", "to_out.0"]
