"""Image generation with one warm base pipeline and per-request style LoRAs (NOTES §2).

Per call the style's LoRA is loaded, fused into the UNet, used, then unfused and unloaded, and the
touched base weights are restored bit-exactly, so the next request always starts from the clean base.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from diffusers import StableDiffusionPipeline
from PIL import Image
from safetensors.torch import load as load_safetensors

from .base_model import LORA_TARGET_MODULES, default_device, default_dtype, load_pipeline

# (width, height) per aspect option.
SIZES: dict[str, tuple[int, int]] = {"1:1": (512, 512), "2:2": (1024, 1024), "1:2": (512, 1024)}

_ADAPTER = "style"
_MAX_SIDE = 2048
_MAX_STEPS = 150


class _SkipTextEncoderNotice(logging.Filter):
    """Platform LoRAs are UNet-only by design; diffusers logs a warning about that on every load."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "No LoRA keys associated to CLIPTextModel" not in record.getMessage()


logging.getLogger("diffusers.loaders.lora_base").addFilter(_SkipTextEncoderNotice())


class InferenceInputError(ValueError):
    """The request cannot succeed as given (bad size, empty prompt, missing LoRA…). Do not retry."""

    retryable = False


class PromptError(InferenceInputError):
    """The prompt is empty or unusable."""


class LoraMissingError(InferenceInputError):
    """The style's LoRA file is missing, unreadable or does not fit the base model."""


def build_prompt(style_trigger: str, prompt_tags: list[str]) -> str:
    """``"<trigger>, <tag>, <tag>"`` (trimmed, empties and case-insensitive duplicates dropped).

    The same format training uses for captions, so the trigger sits where the LoRA learned it.
    """
    parts = [style_trigger.strip()] + [t.strip() for t in prompt_tags if t and t.strip()]
    seen: set[str] = set()
    unique = []
    for part in parts:
        if part and part.lower() not in seen:
            seen.add(part.lower())
            unique.append(part)
    return ", ".join(unique)


class InferenceEngine:
    """One warm pipeline per worker process; thread-safe (calls are serialized).

    The pipeline is loaded on first use, never in ``__init__``, so a Celery parent can build the engine
    before forking without touching CUDA (NOTES §2/§3).
    """

    def __init__(self, base_model: str, *, device: str | None = None, lora_cache_size: int = 8) -> None:
        self.base_model = base_model
        self.device = device or default_device()
        self.dtype = default_dtype(self.device)
        self.lora_cache_size = lora_cache_size
        self._pipe: StableDiffusionPipeline | None = None
        self._loras = LoraCache(lora_cache_size)
        self._base_weights: dict[str, torch.Tensor] = {}
        self._lock = threading.RLock()
        #: seconds spent by the last generate(): LoRA fetch/load/fuse, denoise+decode, unfuse/restore
        self.last_timings: dict[str, float] = {}

    # ------------------------------------------------------------------ pipeline

    @property
    def pipeline(self) -> StableDiffusionPipeline:
        """The warm pipeline (loaded on first access)."""
        with self._lock:
            if self._pipe is None:
                pipe = load_pipeline(self.base_model, device=self.device, dtype=self.dtype)
                self._base_weights = _snapshot_lora_targets(pipe.unet)
                self._pipe = pipe
            return self._pipe

    @property
    def loaded(self) -> bool:
        """Whether the pipeline is already in memory."""
        return self._pipe is not None

    # ------------------------------------------------------------------ LoRA cache

    def _get_lora(self, lora_key: str, lora_loader: Callable[[], bytes]) -> dict[str, torch.Tensor]:
        return self._loras.get(lora_key, lora_loader, self.dtype)

    def forget_lora(self, lora_key: str) -> None:
        """Drop a LoRA from the cache (e.g. after the style was retrained)."""
        with self._lock:
            self._loras.pop(lora_key, None)

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        *,
        lora_key: str,
        lora_loader: Callable[[], bytes],
        prompt: str,
        negative_prompt: str = "",
        width: int,
        height: int,
        seed: int,
        steps: int = 30,
        guidance_scale: float = 7.5,
        on_step: Callable[[int, int], None] | None = None,
    ) -> Image.Image:
        """Generate one image in the style whose LoRA ``lora_loader`` returns (safetensors bytes).

        ``lora_loader`` is only called on a cache miss. Deterministic for a given seed on a given
        device. ``on_step(step, total)`` is called after every denoising step (1-based).

        Raises:
            PromptError: empty prompt.
            LoraMissingError: the loader raised FileNotFoundError/KeyError, or the bytes are not a LoRA
                that fits this base model.
            InferenceInputError: bad size or step count.
        """
        _validate(prompt, width, height, steps)
        with self._lock:
            pipe = self.pipeline
            t0 = self._clock()
            state = self._get_lora(lora_key, lora_loader)
            try:
                try:
                    pipe.load_lora_weights(state, adapter_name=_ADAPTER)
                except (ValueError, RuntimeError, KeyError) as exc:
                    self._loras.pop(lora_key, None)
                    detail = str(exc).strip()[:300]  # peft lists every mismatched tensor
                    raise LoraMissingError(f"LoRA {lora_key!r} does not fit the base model: {detail}") from exc
                # Fused: the per-image cost of a LoRA disappears (NOTES §2/§7).
                pipe.fuse_lora(components=["unet"], lora_scale=1.0, adapter_names=[_ADAPTER])
                t1 = self._clock()
                image = self._run(pipe, prompt, negative_prompt, width, height, seed, steps, guidance_scale, on_step)
                t2 = self._clock()
            finally:
                self._clean(pipe)
            t3 = self._clock()
            self.last_timings = {"lora_s": t1 - t0, "generate_s": t2 - t1, "cleanup_s": t3 - t2}
            return image

    def _clock(self) -> float:
        # Only for last_timings: on CUDA, wait for queued kernels so each phase gets its own time.
        if self._pipe is not None and self._pipe.device.type == "cuda":
            torch.cuda.synchronize(self._pipe.device)
        return time.perf_counter()

    def generate_plain(
        self,
        *,
        prompt: str,
        negative_prompt: str = "",
        width: int,
        height: int,
        seed: int,
        steps: int = 30,
        guidance_scale: float = 7.5,
        on_step: Callable[[int, int], None] | None = None,
    ) -> Image.Image:
        """Generate with the bare base model (no LoRA), same arguments as :meth:`generate`."""
        _validate(prompt, width, height, steps)
        with self._lock:
            pipe = self.pipeline
            return self._run(pipe, prompt, negative_prompt, width, height, seed, steps, guidance_scale, on_step)

    def _run(
        self,
        pipe: StableDiffusionPipeline,
        prompt: str,
        negative_prompt: str,
        width: int,
        height: int,
        seed: int,
        steps: int,
        guidance_scale: float,
        on_step: Callable[[int, int], None] | None,
    ) -> Image.Image:
        generator = torch.Generator(device=pipe.device).manual_seed(seed)
        callback = None
        if on_step is not None:

            def callback(p: StableDiffusionPipeline, i: int, t: Any, kwargs: dict) -> dict:
                on_step(i + 1, p.num_timesteps)
                return kwargs

        with torch.inference_mode():
            result = pipe(
                prompt=prompt,
                negative_prompt=negative_prompt or None,
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=guidance_scale,
                generator=generator,
                callback_on_step_end=callback,
                output_type="pil",
            )
        return result.images[0]

    def _clean(self, pipe: StableDiffusionPipeline) -> None:
        """Return the UNet to the exact base weights whatever state the LoRA left it in.

        ``unfuse_lora`` subtracts the delta again, which is not exact in floating point (in fp16 the
        error is ~1 ulp per call and would accumulate over thousands of requests), so the touched
        weights are also copied back from the snapshot taken at load time.
        """
        if getattr(pipe, "num_fused_loras", 0):
            pipe.unfuse_lora(components=["unet"])
        pipe.unload_lora_weights()
        with torch.no_grad():
            for name, weight in self._base_weights.items():
                pipe.unet.get_submodule(name).weight.copy_(weight)


def _validate(prompt: str, width: int, height: int, steps: int) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise PromptError("the prompt is empty")
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or value < 64 or value > _MAX_SIDE or value % 8:
            raise InferenceInputError(f"{name} must be a multiple of 8 between 64 and {_MAX_SIDE}, got {value!r}")
    if not isinstance(steps, int) or not 1 <= steps <= _MAX_STEPS:
        raise InferenceInputError(f"steps must be between 1 and {_MAX_STEPS}, got {steps!r}")


class LoraCache:
    """Parsed LoRA state dicts in host memory, least recently used dropped first (NOTES §2); shared by
    the one-image and the batched engines so both load and evict the same way."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._states: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()

    def get(self, key: str, loader: Callable[[], bytes] | None, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        cached = self._states.get(key)
        if cached is not None:
            self._states.move_to_end(key)
            return cached
        if loader is None:
            raise LoraMissingError(f"LoRA {key!r} has no loader")
        try:
            data = loader()
        except (FileNotFoundError, KeyError) as exc:
            raise LoraMissingError(f"LoRA {key!r} not found") from exc
        state = _parse_lora(key, data, dtype)
        if self.size > 0:
            self._states[key] = state
            while len(self._states) > self.size:
                self._states.popitem(last=False)
        return state

    def pop(self, key: str, default=None):
        return self._states.pop(key, default)


def _parse_lora(lora_key: str, data: bytes, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Safetensors bytes -> state dict in the pipeline's dtype, after a sanity check of the keys."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise LoraMissingError(f"LoRA {lora_key!r} is empty")
    try:
        state = load_safetensors(bytes(data))
    except Exception as exc:  # safetensors raises its own error types for every kind of bad file
        raise LoraMissingError(f"LoRA {lora_key!r} is not a valid safetensors file: {exc}") from exc
    if not state or not all("lora" in key and key.startswith("unet.") for key in state):
        raise LoraMissingError(f"LoRA {lora_key!r} holds no UNet LoRA weights")
    return {key: value.to(dtype) for key, value in state.items()}


def _snapshot_lora_targets(unet: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every weight a platform LoRA can touch (~190 MB in fp16 for SD 1.5), on the same device
    so restoring is a device-side copy."""
    suffixes = tuple("." + m for m in LORA_TARGET_MODULES)
    return {
        name: module.weight.detach().clone()
        for name, module in unet.named_modules()
        if isinstance(module, torch.nn.Linear) and name.endswith(suffixes)
    }
