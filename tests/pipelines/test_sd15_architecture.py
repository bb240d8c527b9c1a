"""The real Stable Diffusion 1.5 architecture (UNet 860M, VAE, CLIP ViT-L text encoder) with random
weights, saved in diffusers layout and loaded from a folder through ``STYLELICENSE_BASE_MODEL``, the way a
production worker loads the real checkpoint: 2 training steps at 64 px, then 2 generation steps at 64 px
through the worker's engine (``BatchEngine.from_env``), one styled and one plain image in one batch.

The model is built once (~100 s, ~2 GB fp16) into ``STYLELICENSE_SD15_RANDOM_CACHE`` (default
``~/.cache/stylelicense/models/sd15-random-v1``) and reused by later runs; the test itself takes ~1.5 min
on two CPU cores.
"""

from __future__ import annotations

import numpy as np
import pytest

from workers.pipelines.base_model import LORA_RANK, ensure_sd15_random_model

from .conftest import make_training_images

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sd15_folder():
    return ensure_sd15_random_model()


def test_sd15_architecture_trains_and_generates_through_the_worker_code(sd15_folder, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from workers.pipelines.batching import BatchEngine, RenderRequest
    from workers.pipelines.training import TrainingConfig, train_lora

    assert (sd15_folder / "model_index.json").is_file() and (sd15_folder / "unet").is_dir()
    monkeypatch.setenv("STYLELICENSE_BASE_MODEL", str(sd15_folder))
    monkeypatch.setenv("GENERATION_BATCH_SIZE", "2")
    monkeypatch.setenv("GENERATION_MIX_STYLES", "1")  # the styled and the plain image in one batch

    import os

    result = train_lora(
        os.environ["STYLELICENSE_BASE_MODEL"],
        make_training_images(10),
        "inkwash style",
        tmp_path / "lora",
        config=TrainingConfig(resolution=64, max_steps=2, epochs=1),
    )
    assert result.steps == 2 and np.isfinite(result.final_loss)
    lora = load_file(result.lora_path)
    # SD 1.5 has 16 transformer blocks x 2 attentions x 4 projections = 128 LoRA'd layers, A and B each.
    assert len(lora) == 256
    down = next(v for k, v in lora.items() if "to_q" in k and ("lora_A" in k or "lora.down" in k))
    assert down.shape[0] == LORA_RANK

    engine = BatchEngine.from_env()
    assert engine.base_model == str(sd15_folder) and engine.max_batch == 2 and engine.mix_styles
    data = result.lora_path.read_bytes()
    steps: list[tuple[int, int]] = []
    requests = [
        RenderRequest(
            prompt="inkwash style, cat",
            seed=1,
            width=64,
            height=64,
            steps=2,
            lora_key="style",
            lora_loader=lambda: data,
            on_step=lambda s, t: steps.append((s, t)),
        ),
        RenderRequest(prompt="inkwash style, cat", seed=1, width=64, height=64, steps=2),
    ]
    styled, plain = engine.render(requests, output="np")
    assert styled.ok and plain.ok, (styled.error, plain.error)
    assert styled.batch_size == 2  # the styled and the plain request shared one denoising loop
    assert steps == [(1, 2), (2, 2)]
    assert styled.array.shape == (64, 64, 3) and np.isfinite(styled.array).all()
    assert not np.array_equal(styled.array, plain.array)  # the trained LoRA acts on the SD 1.5 UNet
    assert engine.pipeline.unet.config.cross_attention_dim == 768
    assert sum(p.numel() for p in engine.pipeline.unet.parameters()) > 800_000_000


# ------------------------------------------------------------------ CUDA-only lines (skipped without a GPU)

cuda_only = pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")


@cuda_only
@pytest.mark.parametrize("bf16", [True, False], ids=["bf16-autocast", "fp16-gradscaler"])
def test_cuda_training_mixed_precision(tiny_model_dir, tmp_path, monkeypatch, bf16):
    """bf16 autocast where supported, else fp16 autocast with a GradScaler; the LoRA stays fp32."""
    import torch
    from safetensors.torch import load_file

    from workers.pipelines.training import TrainingConfig, train_lora

    if not bf16:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    scalers = []
    real_scaler = torch.amp.GradScaler
    monkeypatch.setattr(torch.amp, "GradScaler", lambda *a, **k: scalers.append(a) or real_scaler(*a, **k))
    result = train_lora(
        "tiny",
        make_training_images(10),
        "inkwash style",
        tmp_path,
        config=TrainingConfig(resolution=64, max_steps=3, epochs=1),
    )
    assert np.isfinite(result.final_loss)
    assert bool(scalers) is (not bf16)
    assert all(v.dtype == torch.float16 for v in load_file(result.lora_path).values())  # saved fp16
    torch.cuda.synchronize()
    # train_lora frees its pipeline and empties the CUDA cache before returning
    assert torch.cuda.memory_reserved() < 512 * 2**20


@cuda_only
def test_cuda_out_of_memory_is_retryable():
    import torch

    from workers.generation import classify

    assert classify(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")) == (
        True,
        "GPU_OUT_OF_MEMORY",
    )
