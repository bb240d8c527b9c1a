"""Base Stable Diffusion 1.5 pipelines: the real model, a tiny random one for tests, and a
random-weight full-size one for GPU benchmarks.

Nothing here downloads: ``"tiny"`` and the SD 1.5 random architecture are built from configs with fixed
seeds, saved once with ``save_pretrained`` and then loaded with ``from_pretrained`` so that the same
loading path as for a real checkpoint runs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

TINY = "tiny"
SD15_RANDOM = "sd15-random"

# One platform-wide LoRA shape, so that any style's LoRA fits any warm pipeline (NOTES §1, §2).
LORA_RANK = 16
LORA_ALPHA = 16
LORA_TARGET_MODULES = ["to_k", "to_q", "to_v", "to_out.0"]

_TINY_CACHE_ENV = "STYLELICENSE_MODEL_CACHE"
_SD15_RANDOM_CACHE_ENV = "STYLELICENSE_SD15_RANDOM_CACHE"
_ALLOW_DOWNLOAD_ENV = "STYLELICENSE_ALLOW_MODEL_DOWNLOAD"
# Bump when a tiny/random config changes so stale caches are not reused.
_TINY_VERSION = "tiny-sd-v1"
_SD15_RANDOM_VERSION = "sd15-random-v1"


def default_device() -> str:
    """The device a pipeline goes to when none is given: CUDA if available, else CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str | torch.device) -> torch.dtype:
    """fp16 on CUDA (the SD 1.5 weights are fine in fp16), fp32 on CPU (fp16 is slow or unsupported)."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


def tiny_model_dir() -> Path:
    """Where the tiny pipeline is cached (``STYLELICENSE_MODEL_CACHE`` or the per-user cache)."""
    env = os.environ.get(_TINY_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "stylelicense" / "models" / _TINY_VERSION


def sd15_random_model_dir() -> Path:
    """Where the random-weight SD 1.5 architecture is cached (``STYLELICENSE_SD15_RANDOM_CACHE``)."""
    env = os.environ.get(_SD15_RANDOM_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "stylelicense" / "models" / _SD15_RANDOM_VERSION


# --------------------------------------------------------------------------------------------------
# Tokenizer: a byte-level BPE vocabulary with every byte as a token (so any prompt tokenizes into
# distinct ids, unlike a vocabulary of a few words where most prompts become <unk>), plus a handful
# of merges so the BPE code path is exercised.
# --------------------------------------------------------------------------------------------------


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable unicode map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


_TINY_MERGES = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("i", "n"), ("e", "r</w>"), ("s", "t")]


def write_tiny_tokenizer_files(folder: Path) -> None:
    """Write ``vocab.json`` and ``merges.txt`` of a small CLIP-style BPE tokenizer into ``folder``."""
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    tokens += ["".join(pair) for pair in _TINY_MERGES]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges = "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in _TINY_MERGES) + "\n"
    (folder / "merges.txt").write_text(merges, encoding="utf-8")


def _build_tokenizer(workdir: Path) -> CLIPTokenizer:
    write_tiny_tokenizer_files(workdir)
    # model_max_length=77: the pipeline pads prompts to the tokenizer's max length.
    return CLIPTokenizer.from_pretrained(str(workdir), model_max_length=77, local_files_only=True)


# --------------------------------------------------------------------------------------------------
# Component builders
# --------------------------------------------------------------------------------------------------


def _scheduler() -> DDPMScheduler:
    # SD 1.5's training noise schedule; inference swaps in DPM-Solver++ from this config.
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        clip_sample=False,
        steps_offset=1,
    )


def build_tiny_pipeline(workdir: Path) -> StableDiffusionPipeline:
    """Assemble the tiny random-weight pipeline in memory (fixed seeds: identical on every machine).

    UNet, text encoder and tokenizer follow NOTES §4. The VAE has four blocks instead of two so that,
    like SD 1.5, latents are 1/8 of the image size: with a 2-block VAE a 512² image becomes a 256²
    latent and self-attention over 128² tokens makes every test at product sizes take minutes.
    """
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 32, 64, 64],
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=1,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        sample_size=256,
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            pad_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=1000,
            max_position_embeddings=77,
        )
    )
    return StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_build_tokenizer(workdir / "tokenizer-src"),
        scheduler=_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_sd15_random_pipeline(workdir: Path) -> StableDiffusionPipeline:
    """The real SD 1.5 architecture (UNet 860M, VAE 84M, CLIP ViT-L/14 text encoder) with random weights.

    For GPU timing only: the numbers match the real model's cost, the images are noise. The tokenizer
    is the small one (the real 49k vocabulary cannot be downloaded); the embedding table keeps the real size.
    """
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=(
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "CrossAttnDownBlock2D",
            "DownBlock2D",
        ),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=2,
        block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        sample_size=512,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            bos_token_id=0,
            eos_token_id=2,
            pad_token_id=1,
        )
    )
    return StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_build_tokenizer(workdir / "tokenizer-src"),
        scheduler=_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _ensure_saved(
    target: Path, builder: Callable[[Path], StableDiffusionPipeline], *, save_dtype: torch.dtype | None = None
) -> Path:
    """Build and ``save_pretrained`` a pipeline into ``target`` once, atomically.

    Writes into a temp dir next to ``target`` and renames it into place, so a crash or a concurrent
    process never leaves a half-written model behind; whoever renames first wins.
    """
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        pipe = builder(tmp / "_work")
        if save_dtype is not None:
            pipe.to(dtype=save_dtype)
        pipe.save_pretrained(tmp / "model", safe_serialization=True)
        try:
            os.rename(tmp / "model", target)
        except OSError:
            # Lost the race to another process (target now exists and is non-empty): use theirs.
            if not (target / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_tiny_model() -> Path:
    """Make sure the tiny pipeline is saved in its cache dir and return that dir."""
    return _ensure_saved(tiny_model_dir(), build_tiny_pipeline)


def ensure_sd15_random_model() -> Path:
    """Make sure the random SD 1.5 architecture is saved (fp16, ~2 GB) and return its dir."""
    return _ensure_saved(sd15_random_model_dir(), build_sd15_random_pipeline, save_dtype=torch.float16)


def _local_files_only() -> bool:
    # Workers never download weights unless an operator explicitly allows it.
    return os.environ.get(_ALLOW_DOWNLOAD_ENV, "").lower() not in {"1", "true", "yes"}


def resolve_model_path(model: str) -> str:
    """Map ``"tiny"`` and ``"sd15-random"`` to their cache dirs; other strings pass through."""
    if model == TINY:
        return str(ensure_tiny_model())
    if model == SD15_RANDOM:
        return str(ensure_sd15_random_model())
    return model


def load_pipeline(
    model: str, *, device: str | None = None, dtype: torch.dtype | None = None
) -> StableDiffusionPipeline:
    """Load a Stable Diffusion 1.5-architecture pipeline ready for inference.

    Args:
        model: ``"tiny"`` (random test pipeline), ``"sd15-random"`` (full-size random weights, for
            benchmarks), or a diffusers model id / local directory.
        device: defaults to CUDA if available, else CPU.
        dtype: defaults to fp16 on CUDA, fp32 on CPU.

    The safety checker is off and the scheduler is DPM-Solver++ (multistep).
    """
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    path = resolve_model_path(model)
    pipe = StableDiffusionPipeline.from_pretrained(
        path,
        dtype=dtype,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
        local_files_only=_local_files_only(),
    )
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
