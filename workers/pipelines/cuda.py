"""The GPU side of the serving engine (workers/pipelines/batching.py): precision, attention and memory
layout, the persistent ``torch.compile`` cache, a clock that waits for the GPU, out-of-memory detection.

Everything here is only ever called on a CUDA pipeline (except the two helpers that are no-ops on CPU);
none of it has run on this project's CI machines (no GPU there).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline

log = logging.getLogger(__name__)


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def synced_clock(pipe: StableDiffusionPipeline) -> float:
    if pipe.device.type == "cuda":
        torch.cuda.synchronize(pipe.device)
    return time.perf_counter()


def dtype_for(device: str | torch.device) -> torch.dtype:
    """fp16 on CUDA (SD 1.5 is fine in fp16; ``GENERATION_DTYPE=bf16`` for bf16), fp32 on CPU."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


def optimize_for_cuda(pipe: StableDiffusionPipeline) -> None:
    """SDPA attention, channels-last convolutions, TF32 matmuls. Only ever called on a CUDA pipeline."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    pipe.unet.set_attn_processor(AttnProcessor2_0())
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    pipe.unet.to(memory_format=torch.channels_last)
    pipe.vae.to(memory_format=torch.channels_last)


def compile_cache_dir() -> Path:
    """``TORCHINDUCTOR_CACHE_DIR`` (set to ``~/.cache/stylelicense/inductor`` when unset)."""
    return Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR") or Path.home() / ".cache/stylelicense/inductor")


def configure_compile_cache() -> None:
    """Persistent compile caches, so a restarted worker reuses earlier compilations instead of paying
    minutes again (NOTES §7: 94 s first call, 292 s per new shape)."""
    folder = compile_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    import torch._dynamo
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    if hasattr(inductor_config, "autotune_local_cache"):
        inductor_config.autotune_local_cache = True
    # Each batch size x product size is its own graph; the default limit (8) would fall back to eager.
    torch._dynamo.config.recompile_limit = 64
    artifacts = folder / "mega-cache.bin"
    if artifacts.is_file() and hasattr(torch.compiler, "load_cache_artifacts"):
        try:
            torch.compiler.load_cache_artifacts(artifacts.read_bytes())
        except Exception as error:  # noqa: BLE001 — a stale cache only costs time
            log.warning("compile cache %s not usable: %r", artifacts, error)


def save_compile_artifacts() -> None:
    if not hasattr(torch.compiler, "save_cache_artifacts"):
        return
    try:
        saved = torch.compiler.save_cache_artifacts()
    except Exception as error:  # noqa: BLE001
        log.warning("could not save the compile cache: %r", error)
        return
    if saved:
        target = compile_cache_dir() / "mega-cache.bin"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(saved[0])
        tmp.replace(target)
