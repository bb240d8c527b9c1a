"""InferenceEngine on the tiny model with a LoRA trained by train_lora."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save

from workers.pipelines.base_model import TINY
from workers.pipelines.inference import (
    SIZES,
    InferenceEngine,
    InferenceInputError,
    LoraMissingError,
    PromptError,
    build_prompt,
)

# Small and few steps: the behaviour under test does not depend on size.
KW = {"prompt": "inkwash style, red, circles", "width": 64, "height": 64, "steps": 3}


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _unet_state(engine: InferenceEngine) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in engine.pipeline.unet.state_dict().items()}


def test_pipeline_is_loaded_lazily(tiny_model_dir) -> None:
    engine = InferenceEngine(TINY, device="cpu")
    assert not engine.loaded
    engine.generate_plain(**KW, seed=0)
    assert engine.loaded


def test_lora_changes_output_and_leaves_the_pipeline_clean(engine: InferenceEngine, lora_bytes: bytes) -> None:
    before = engine.generate_plain(**KW, seed=7)
    weights_before = _unet_state(engine)

    styled = engine.generate(lora_key="style-a", lora_loader=lambda: lora_bytes, **KW, seed=7)
    diff = np.abs(_px(styled) - _px(before))
    assert diff.mean() > 0.5, diff.mean()  # the LoRA visibly changes the image for the same seed

    # Clean again: no adapter modules left, base weights bit-identical, same image as before.
    unet = engine.pipeline.unet
    assert not any("lora" in name for name, _ in unet.named_modules())
    assert not getattr(unet, "peft_config", None)
    weights_after = _unet_state(engine)
    assert weights_after.keys() == weights_before.keys()
    assert all(torch.equal(weights_after[k], weights_before[k]) for k in weights_before)
    after = engine.generate_plain(**KW, seed=7)
    assert np.array_equal(_px(after), _px(before))


def test_same_seed_gives_the_same_image(engine: InferenceEngine, lora_bytes: bytes) -> None:
    first = engine.generate(lora_key="style-a", lora_loader=lambda: lora_bytes, **KW, seed=3)
    second = engine.generate(lora_key="style-a", lora_loader=lambda: lora_bytes, **KW, seed=3)
    other = engine.generate(lora_key="style-a", lora_loader=lambda: lora_bytes, **KW, seed=4)
    assert np.array_equal(_px(first), _px(second))
    assert not np.array_equal(_px(first), _px(other))


def test_output_has_the_requested_size(engine: InferenceEngine, lora_bytes: bytes) -> None:
    image = engine.generate(
        lora_key="style-a", lora_loader=lambda: lora_bytes, prompt="x", width=64, height=128, steps=1, seed=0
    )
    assert isinstance(image, Image.Image) and image.size == (64, 128)


def test_on_step_reports_increasing_steps(engine: InferenceEngine, lora_bytes: bytes) -> None:
    calls: list[tuple[int, int]] = []
    engine.generate(
        lora_key="style-a",
        lora_loader=lambda: lora_bytes,
        **{**KW, "steps": 4},
        seed=0,
        on_step=lambda step, total: calls.append((step, total)),
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert set(engine.last_timings) == {"lora_s", "generate_s", "cleanup_s"}
    assert all(v > 0 for v in engine.last_timings.values())


def test_lora_bytes_are_cached_per_key(tiny_model_dir, lora_bytes: bytes) -> None:
    engine = InferenceEngine(TINY, device="cpu", lora_cache_size=1)
    loads: list[str] = []

    def loader(key: str):
        def load() -> bytes:
            loads.append(key)
            return lora_bytes

        return load

    kw = {**KW, "steps": 1, "seed": 0}
    engine.generate(lora_key="a", lora_loader=loader("a"), **kw)
    engine.generate(lora_key="a", lora_loader=loader("a"), **kw)
    assert loads == ["a"]
    engine.generate(lora_key="b", lora_loader=loader("b"), **kw)  # evicts "a" (cache size 1)
    engine.generate(lora_key="a", lora_loader=loader("a"), **kw)
    assert loads == ["a", "b", "a"]


@pytest.mark.parametrize("error", [FileNotFoundError("gone"), KeyError("loras/x.safetensors")])
def test_missing_lora_raises_lora_missing(engine: InferenceEngine, error: Exception) -> None:
    def loader() -> bytes:
        raise error

    with pytest.raises(LoraMissingError):
        engine.generate(lora_key="missing", lora_loader=loader, **KW, seed=0)
    assert LoraMissingError.retryable is False


def test_other_loader_errors_propagate(engine: InferenceEngine) -> None:
    # e.g. a storage outage: retryable, so it must not be turned into LoraMissingError
    def loader() -> bytes:
        raise ConnectionError("storage down")

    with pytest.raises(ConnectionError):
        engine.generate(lora_key="flaky", lora_loader=loader, **KW, seed=0)


@pytest.mark.parametrize("data", [b"", b"not a safetensors file", save({"foo": torch.zeros(2)})])
def test_invalid_lora_file_raises_lora_missing(engine: InferenceEngine, data: bytes) -> None:
    with pytest.raises(LoraMissingError):
        engine.generate(lora_key=f"bad-{len(data)}", lora_loader=lambda: data, **KW, seed=0)


def test_incompatible_lora_raises_and_leaves_pipeline_clean(
    engine: InferenceEngine, trained_lora, lora_bytes: bytes
) -> None:
    baseline = engine.generate_plain(**KW, seed=11)
    # Right key names, wrong shapes: a LoRA made for another architecture.
    state = load_file(trained_lora[0].lora_path)
    wrong = {k: torch.zeros(v.shape[0] + 1, v.shape[1] + 3, dtype=v.dtype) for k, v in state.items()}
    with pytest.raises(LoraMissingError):
        engine.generate(lora_key="wrong-arch", lora_loader=lambda: save(wrong), **KW, seed=0)
    assert np.array_equal(_px(engine.generate_plain(**KW, seed=11)), _px(baseline))
    # and a good LoRA still works afterwards
    styled = engine.generate(lora_key="style-a", lora_loader=lambda: lora_bytes, **KW, seed=11)
    assert not np.array_equal(_px(styled), _px(baseline))


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt_raises_prompt_error(engine: InferenceEngine, lora_bytes: bytes, prompt: str) -> None:
    with pytest.raises(PromptError):
        engine.generate(lora_key="style-a", lora_loader=lambda: lora_bytes, prompt=prompt, width=64, height=64, seed=0)
    with pytest.raises(PromptError):
        engine.generate_plain(prompt=prompt, width=64, height=64, seed=0)


@pytest.mark.parametrize(("width", "height", "steps"), [(100, 64, 2), (64, 0, 2), (64, 64, 0), (4096, 64, 2)])
def test_bad_size_or_steps_is_rejected(engine: InferenceEngine, width: int, height: int, steps: int) -> None:
    with pytest.raises(InferenceInputError):
        engine.generate_plain(prompt="x", width=width, height=height, steps=steps, seed=0)


def test_sizes() -> None:
    assert SIZES == {"1:1": (512, 512), "2:2": (1024, 1024), "1:2": (512, 1024)}


def test_product_size_on_the_tiny_model(engine: InferenceEngine, lora_bytes: bytes) -> None:
    width, height = SIZES["1:1"]
    image = engine.generate(
        lora_key="style-a",
        lora_loader=lambda: lora_bytes,
        prompt="x",
        width=width,
        height=height,
        steps=1,
        seed=0,
    )
    buf = io.BytesIO()
    image.save(buf, "PNG")
    assert image.size == (512, 512) and len(buf.getvalue()) > 1000


def test_build_prompt() -> None:
    assert build_prompt("inkwash style", ["cat", " tree ", "", "Cat"]) == "inkwash style, cat, tree"
    assert build_prompt(" inkwash style ", []) == "inkwash style"
