"""Batched, multi-style rendering on one warm pipeline (NOTES §2, §9).

:class:`BatchEngine` takes N independent requests (prompt, negative prompt, seed, size, steps, guidance,
style LoRA or none) and renders them in as few denoising loops as it can:

- requests are grouped by what a single diffusers call must share (width, height, steps, guidance);
- each request keeps its own ``torch.Generator``, so its starting noise is exactly what it gets alone;
- styles: a group with one style runs with that LoRA **fused** into the UNet (no per-image LoRA cost);
  a group with several styles either runs as one batch through peft's per-sample ``adapter_names``
  (``mix_styles=True``: base run once, each adapter's low-rank update added to its own samples) or is
  split into one fused sub-batch per style (``mix_styles=False``);
- the fused style stays fused across calls and is switched only when a group needs another one; a
  switch unfuses and then copies the touched base weights back from a snapshot, so the base is
  bit-exact whatever happened before (``unfuse`` alone subtracts the delta, which is not exact);
- with ``hotswap=True`` (always under ``torch.compile``) there is one adapter slot whose weights are
  copied in place on a style change (no recompile), a zero LoRA standing in for "no style"; never fused;
- one request's bad input, missing LoRA or failing progress callback fails that request alone.

CUDA only (behind ``device == "cuda"``): fp16 or bf16, SDPA attention, channels-last UNet/VAE,
optional ``torch.compile`` of the UNet with a persistent compile cache, and :meth:`warm_up` of the
product sizes. None of the CUDA lines ran on this project's CI machines (no GPU there).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from .adapters import StyleFailed, StyleWeights, adapter_names
from .base_model import default_device, load_pipeline
from .cuda import (
    dtype_for,
    optimize_for_cuda,
    save_compile_artifacts,
    synced_clock,
)
from .inference import (
    SIZES,
    InferenceInputError,
    LoraCache,
    _validate,
)

log = logging.getLogger(__name__)


@dataclass
class RenderRequest:
    """One image to render. ``lora_loader`` (safetensors bytes) is called only on a cache miss."""

    prompt: str
    seed: int
    width: int = 512
    height: int = 512
    steps: int = 30
    guidance_scale: float = 7.5
    negative_prompt: str = ""
    lora_key: str | None = None
    lora_loader: Callable[[], bytes] | None = None
    #: ``on_step(step, total)`` after every denoising step (1-based); raising fails this request only.
    on_step: Callable[[int, int], None] | None = None


@dataclass
class RenderOutcome:
    """The image (PIL, or a float HxWx3 array in [0, 1] with ``output="np"``) or the error."""

    image: Image.Image | None = None
    array: np.ndarray | None = None
    error: BaseException | None = None
    #: size of the denoising batch it ran in, and that batch's wall time (style switch + denoise + decode)
    batch_size: int = 0
    batch_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether an image came out."""
        return self.error is None


@dataclass
class _Item:
    index: int
    request: RenderRequest
    state: dict[str, torch.Tensor] | None = None
    outcome: RenderOutcome = field(default_factory=RenderOutcome)


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else raw.lower() in {"1", "true", "yes", "on"}


class BatchEngine:
    """One warm pipeline, batched rendering, style LoRAs kept active across calls.

    Thread-safe (calls are serialized); the pipeline is loaded on first use, never in ``__init__``,
    so a Celery parent may build the engine before forking without touching CUDA (NOTES §2/§3).
    """

    def __init__(
        self,
        base_model: str,
        *,
        device: str | None = None,
        dtype: torch.dtype | None = None,
        max_batch: int = 8,
        mix_styles: bool = True,
        hotswap: bool = False,
        compile_unet: bool = False,
        lora_cache_size: int = 32,
        max_loaded_adapters: int = 8,
    ) -> None:
        self.base_model = base_model
        self.device = device or default_device()
        self.dtype = dtype or dtype_for(self.device)
        self.max_batch = max(1, max_batch)
        self.compile_unet = compile_unet and torch.device(self.device).type == "cuda"
        self.hotswap = hotswap or self.compile_unet
        # A compiled graph recompiles on every new pattern of per-sample adapter names (NOTES §9).
        self.mix_styles = mix_styles and not self.hotswap
        self.lora_cache_size = lora_cache_size
        self.max_loaded_adapters = max(1, max_loaded_adapters)
        self._pipe: StableDiffusionPipeline | None = None
        self._loras = LoraCache(lora_cache_size)
        self._adapter_counter = 0
        self._weights: StyleWeights | None = None  # the UNet's LoRA state, with the pipeline
        self._lock = threading.RLock()
        #: counters for tests and benchmarks
        self.stats = {"calls": 0, "batches": 0, "images": 0, "style_switches": 0, "adapter_loads": 0}

    @classmethod
    def from_env(cls, base_model: str | None = None) -> BatchEngine:
        """Settings: ``GENERATION_BATCH_SIZE`` (8), ``GENERATION_MIX_STYLES`` (0: one fused batch per
        style; 1: one batch with per-sample adapters — in eager mode on a GPU its kernel launches grow with
        every distinct style, NOTES §9, so it is off until measured to pay),
        ``GENERATION_COMPILE`` (0; CUDA only), ``GENERATION_DTYPE`` (fp16|bf16, CUDA),
        ``GENERATION_LORA_CACHE`` (32 LoRAs kept in host memory)."""
        dtype = None
        if os.environ.get("GENERATION_DTYPE", "").lower() in {"bf16", "bfloat16"}:
            dtype = torch.bfloat16
        return cls(
            base_model or os.environ.get("STYLELICENSE_BASE_MODEL") or "tiny",
            dtype=dtype if default_device() == "cuda" else None,
            max_batch=int(os.environ.get("GENERATION_BATCH_SIZE") or 8),
            mix_styles=_env_flag("GENERATION_MIX_STYLES", False),
            compile_unet=_env_flag("GENERATION_COMPILE", False),
            lora_cache_size=int(os.environ.get("GENERATION_LORA_CACHE") or 32),
        )

    # ------------------------------------------------------------------ pipeline

    @property
    def pipeline(self) -> StableDiffusionPipeline:
        """The warm pipeline (loaded on first access)."""
        with self._lock:
            if self._pipe is None:
                pipe = load_pipeline(self.base_model, device=self.device, dtype=self.dtype)
                if pipe.device.type == "cuda":
                    optimize_for_cuda(pipe)
                self._weights = StyleWeights(
                    pipe,
                    dtype=self.dtype,
                    loras=self._loras,
                    stats=self.stats,
                    hotswap=self.hotswap,
                    compile_unet=self.compile_unet,
                    max_loaded_adapters=self.max_loaded_adapters,
                )
                self._pipe = pipe
            return self._pipe

    @property
    def loaded(self) -> bool:
        """Whether the pipeline is already in memory."""
        return self._pipe is not None

    @property
    def active_style(self) -> str | None:
        """The LoRA key whose weights are active now (fused or in the hot-swap slot), else None."""
        return self._weights.active if self._weights is not None else None

    def warm_up(self, sizes: list[tuple[int, int]] | None = None, *, steps: int = 2) -> dict[str, float]:
        """Render one throwaway image per size (default: the three product sizes) so kernels, the
        allocator and — under ``torch.compile`` — the graphs are ready before the first job.
        Returns seconds per size. With compile on, the compile cache is saved afterwards."""
        timings = {}
        for width, height in sizes or list(SIZES.values()):
            start = time.perf_counter()
            outcome = self.render([RenderRequest(prompt="warm up", seed=0, width=width, height=height, steps=steps)])[0]
            if outcome.error is not None:
                raise outcome.error
            timings[f"{width}x{height}"] = time.perf_counter() - start
        if self.compile_unet:
            save_compile_artifacts()
        return timings

    # ------------------------------------------------------------------ LoRA cache (host memory)

    def _get_lora(self, key: str, loader: Callable[[], bytes] | None) -> dict[str, torch.Tensor]:
        return self._loras.get(key, loader, self.dtype)

    def forget_lora(self, key: str) -> None:
        """Drop a LoRA everywhere (host cache, loaded adapter, fused weights), e.g. after a retrain."""
        with self._lock:
            self._loras.pop(key, None)
            if self._pipe is None:
                return
            self._weights.forget(key)

    # ------------------------------------------------------------------ rendering

    def render(self, requests: list[RenderRequest], *, output: str = "pil") -> list[RenderOutcome]:
        """Render every request; outcomes in the same order. Never raises for one request's fault:
        bad input (``InferenceInputError``), a missing or unfit LoRA (``LoraMissingError``), a loader
        error (e.g. storage down) or an exception from its ``on_step`` lands in that outcome's
        ``error``. An error of a whole batch (e.g. out of memory) makes each of its requests run alone
        once, so only the requests that fail alone carry the error."""
        items = [_Item(i, r) for i, r in enumerate(requests)]
        with self._lock:
            self.stats["calls"] += 1
            pipe = self.pipeline
            ready = []
            for item in items:
                try:
                    _check(item.request)
                    if item.request.lora_key is not None:
                        item.state = self._get_lora(item.request.lora_key, item.request.lora_loader)
                except Exception as error:  # noqa: BLE001 — recorded per request, never lost
                    item.outcome.error = error
                    continue
                ready.append(item)
            for group in self._plan(ready):
                self._render_group(pipe, group, output)
        return [item.outcome for item in items]

    def _plan(self, items: list[_Item]) -> list[list[_Item]]:
        """Groups that can share one diffusers call, at most ``max_batch`` each; the active style's
        groups first so a switch happens only when needed."""
        groups: OrderedDict[tuple, list[_Item]] = OrderedDict()
        for item in items:
            r = item.request
            key: tuple = (r.width, r.height, r.steps, float(r.guidance_scale))
            if not self.mix_styles:
                key += (r.lora_key,)
            groups.setdefault(key, []).append(item)
        active = self.active_style
        ordered = sorted(groups.values(), key=lambda g: 0 if {i.request.lora_key for i in g} == {active} else 1)
        if self.mix_styles:
            # Same-style runs inside a mixed group stay together (fewer distinct adapters per chunk).
            ordered = [
                sorted(g, key=lambda i: (i.request.lora_key != active, i.request.lora_key or "")) for g in ordered
            ]
        return [g[i : i + self.max_batch] for g in ordered for i in range(0, len(g), self.max_batch)]

    def _render_group(self, pipe: StableDiffusionPipeline, group: list[_Item], output: str) -> None:
        start = time.perf_counter()
        while True:
            try:
                names = self._weights.activate(
                    [item.request.lora_key for item in group], {item.request.lora_key: item.state for item in group}
                )
                break
            except StyleFailed as failed:  # those styles' requests fail; the rest go on
                for item in group:
                    if item.request.lora_key in failed.keys:
                        item.outcome.error = failed.error
                group = [item for item in group if item.outcome.error is None]
            except Exception as error:  # noqa: BLE001 — e.g. out of memory while loading: all retry
                for item in group:
                    item.outcome.error = error
                return
            if not group:
                return
        try:
            images, errors = self._denoise(pipe, [i.request for i in group], names)
        except Exception as error:
            if len(group) == 1:
                group[0].outcome.error = error
                return
            log.warning("a batch of %d failed (%r); rendering each alone", len(group), error)
            for item in group:
                self._render_group(pipe, [item], output)
            return
        seconds = synced_clock(pipe) - start
        self.stats["batches"] += 1
        for item, image, error in zip(group, images, errors, strict=True):
            item.outcome.batch_size, item.outcome.batch_seconds = len(group), seconds
            if error is not None:
                item.outcome.error = error
                continue
            self.stats["images"] += 1
            if output == "np":
                item.outcome.array = image
            else:
                item.outcome.image = pipe.numpy_to_pil(image[None])[0]

    def reset(self) -> None:
        """Back to the bare base model: unfuse, unload every adapter, restore the snapshot."""
        with self._lock:
            if self._weights is not None:
                self._weights.reset()

    # ------------------------------------------------------------------ one diffusers call

    def _denoise(
        self, pipe: StableDiffusionPipeline, requests: list[RenderRequest], names: list[str] | None
    ) -> tuple[list[np.ndarray], list[BaseException | None]]:
        first = requests[0]
        errors: list[BaseException | None] = [None] * len(requests)
        generators = [torch.Generator(device=pipe.device).manual_seed(r.seed) for r in requests]

        def on_step_end(p: StableDiffusionPipeline, i: int, t: Any, kwargs: dict) -> dict:
            for j, request in enumerate(requests):
                if request.on_step is None or errors[j] is not None:
                    continue
                try:
                    request.on_step(i + 1, p.num_timesteps)
                except Exception as error:  # noqa: BLE001 — this request fails, its batch goes on
                    errors[j] = error
            if all(e is not None for e in errors):
                p._interrupt = True  # nobody wants these images any more
            return kwargs

        cfg = first.guidance_scale > 1 and pipe.unet.config.time_cond_proj_dim is None
        hook = adapter_names(pipe.unet, (names + names if cfg else names) if names else None)
        with torch.inference_mode(), hook:
            result = pipe(
                prompt=[r.prompt for r in requests],
                negative_prompt=[r.negative_prompt or "" for r in requests],
                width=first.width,
                height=first.height,
                num_inference_steps=first.steps,
                guidance_scale=first.guidance_scale,
                generator=generators,
                callback_on_step_end=on_step_end,
                output_type="np",
            )
        return list(result.images), errors


def _check(request: RenderRequest) -> None:
    _validate(request.prompt, request.width, request.height, request.steps)
    if not isinstance(request.seed, int) or not 0 <= request.seed < 2**63:
        raise InferenceInputError(f"seed must be a non-negative integer, got {request.seed!r}")
    if not isinstance(request.guidance_scale, int | float) or not 0 <= request.guidance_scale <= 50:
        raise InferenceInputError(f"guidance must be between 0 and 50, got {request.guidance_scale!r}")
