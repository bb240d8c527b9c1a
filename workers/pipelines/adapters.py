"""Which style LoRA is active in one warm pipeline's UNet, and how it got there (used by
:class:`~workers.pipelines.batching.BatchEngine`).

- fused: one style's LoRA fused into the base weights (no per-image LoRA cost); a switch unfuses and
  then copies the touched base weights back from a snapshot, so the base is bit-exact whatever
  happened before (``unfuse`` alone subtracts the delta, which is not exact);
- mixed: several adapters loaded side by side, chosen per sample through peft's ``adapter_names``
  (at most ``max_loaded_adapters``, least recently used dropped first);
- hot-swap (always under ``torch.compile``): one adapter slot whose weights are copied in place on a
  style change (no recompile), a zero LoRA standing in for "no style"; never fused.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import OrderedDict
from collections.abc import Iterator

import torch
from diffusers import StableDiffusionPipeline

from .base_model import LORA_RANK
from .cuda import configure_compile_cache, is_out_of_memory
from .inference import LoraCache, LoraMissingError, _snapshot_lora_targets

BASE = "__base__"  # peft's name for "no adapter" in adapter_names
_SLOT = "slot"  # the single hot-swap slot


class StyleFailed(Exception):  # noqa: N818 — internal signal: these styles' requests fail, the rest go on
    def __init__(self, keys: set | None = None, error: BaseException | None = None) -> None:
        super().__init__("style failed")
        self.keys = keys or set()
        self.error = error


class StyleWeights:
    """The LoRA state of one pipeline. Not thread-safe on its own: the engine serializes calls."""

    def __init__(
        self,
        pipe: StableDiffusionPipeline,
        *,
        dtype: torch.dtype,
        loras: LoraCache,
        stats: dict,
        hotswap: bool,
        compile_unet: bool,
        max_loaded_adapters: int,
    ) -> None:
        self.pipe = pipe
        self.dtype = dtype
        self.hotswap = hotswap
        self.max_loaded_adapters = max(1, max_loaded_adapters)
        self._loras = loras
        self._stats = stats
        self._base_weights: dict[str, torch.Tensor] = _snapshot_lora_targets(pipe.unet)
        self._adapters: OrderedDict[str, str] = OrderedDict()  # lora key -> peft adapter name
        self._adapter_counter = 0
        self._fused: str | None = None  # lora key currently fused into the base weights
        self._slot: str | None = None  # lora key in the hot-swap slot ("" = the zero LoRA)
        if hotswap:
            # The slot must exist (with the platform rank) before compiling; a zero LoRA adds exactly 0.
            pipe.enable_lora_hotswap(target_rank=LORA_RANK)
            pipe.load_lora_weights(self._zero_lora(), adapter_name=_SLOT)
            self._slot = ""
            if compile_unet:
                configure_compile_cache()
                pipe.unet = torch.compile(pipe.unet, fullgraph=False)

    @property
    def active(self) -> str | None:
        """The LoRA key whose weights are active now (fused or in the hot-swap slot), else None."""
        return self._fused if not self.hotswap else (self._slot or None)

    def activate(self, keys: list[str | None], states: dict[str | None, dict | None]) -> list[str] | None:
        """Make the styles of one batch (``keys``: one per sample) active; returns per-sample adapter
        names for a mixed batch, else None. Raises :class:`StyleFailed` naming styles that cannot load."""
        distinct = list(dict.fromkeys(keys))
        if self.hotswap:
            (key,) = distinct  # the engine never mixes styles in hot-swap mode
            self._swap_slot(key, states[key])
            return None
        if len(distinct) == 1 and distinct[0] is not None:
            self._fuse(distinct[0], states[distinct[0]])
            return None
        # Mixed (or plain base): adapters unfused, chosen per sample.
        if self._fused is not None:
            self._unfuse()
        failed = StyleFailed()
        for key in distinct:
            if key is not None:
                try:
                    self._ensure_adapter(key, states[key], keep=set(distinct))
                except LoraMissingError as error:
                    failed.keys.add(key)
                    failed.error = error
        if failed.keys:
            raise failed
        if not self._adapters:
            return None  # nothing loaded: the bare UNet is the base
        return [self._adapters[key] if key else BASE for key in keys]

    def forget(self, key: str) -> None:
        """Drop a LoRA from the UNet (fused weights, hot-swap slot, loaded adapter)."""
        if self._fused == key:
            self._unfuse()
        if self._slot == key:
            self._slot = None  # reloaded on next use
        name = self._adapters.pop(key, None)
        if name is not None:
            self.pipe.delete_adapters(name)

    def reset(self) -> None:
        """Back to the bare base model: unfuse, unload every adapter, restore the snapshot."""
        if self._fused is not None or getattr(self.pipe, "num_fused_loras", 0):
            self._unfuse()
        if self.hotswap:
            self._swap_slot(None, None)
            return
        self.pipe.unload_lora_weights()
        self._adapters.clear()
        self._restore_base()

    # ------------------------------------------------------------------ internals

    def _zero_lora(self) -> dict[str, torch.Tensor]:
        from diffusers.utils import convert_state_dict_to_diffusers

        state = {}
        for name, weight in self._base_weights.items():
            out_features, in_features = weight.shape
            state[f"{name}.lora_A.weight"] = torch.zeros(LORA_RANK, in_features, dtype=self.dtype)
            state[f"{name}.lora_B.weight"] = torch.zeros(out_features, LORA_RANK, dtype=self.dtype)
        return {f"unet.{k}": v for k, v in convert_state_dict_to_diffusers(state).items()}

    def _ensure_adapter(self, key: str, state: dict, keep: set) -> str:
        pipe = self.pipe
        name = self._adapters.get(key)
        if name is not None:
            self._adapters.move_to_end(key)
            return name
        while len(self._adapters) >= self.max_loaded_adapters:
            victim = next((k for k in self._adapters if k not in keep and k != self._fused), None)
            if victim is None:
                break
            pipe.delete_adapters(self._adapters.pop(victim))
        self._adapter_counter += 1
        name = f"s{self._adapter_counter}"
        try:
            with warnings.catch_warnings():
                # peft warns on every adapter after the first; several adapters are the point here.
                warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                pipe.load_lora_weights(state, adapter_name=name)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            self._loras.pop(key, None)
            with contextlib.suppress(Exception):  # a half-loaded adapter must not linger
                pipe.delete_adapters(name)
            detail = str(exc).strip()[:300]  # peft lists every mismatched tensor
            raise LoraMissingError(f"LoRA {key!r} does not fit the base model: {detail}") from exc
        self._stats["adapter_loads"] += 1
        self._adapters[key] = name
        return name

    def _fuse(self, key: str, state: dict) -> None:
        if self._fused == key:
            return
        if self._fused is not None:
            self._unfuse()
        try:
            name = self._ensure_adapter(key, state, keep={key})
        except LoraMissingError as error:
            raise StyleFailed({key}, error) from error
        self.pipe.set_adapters([name])
        self.pipe.fuse_lora(components=["unet"], lora_scale=1.0, adapter_names=[name])
        self._fused = key
        self._stats["style_switches"] += 1

    def _unfuse(self) -> None:
        if getattr(self.pipe, "num_fused_loras", 0):
            self.pipe.unfuse_lora(components=["unet"])
        self._fused = None
        self._restore_base()

    def _restore_base(self) -> None:
        """Copy the snapshot back into every LoRA-targeted base weight (exact; unfuse alone is not)."""
        with torch.no_grad():
            for name, weight in self._base_weights.items():
                module = self.pipe.unet.get_submodule(name)
                getattr(module, "base_layer", module).weight.copy_(weight)

    def _swap_slot(self, key: str | None, state: dict | None) -> None:
        wanted = key or ""
        if self._slot == wanted:
            return
        weights = state if key is not None else self._zero_lora()
        try:
            self.pipe.load_lora_weights(weights, adapter_name=_SLOT, hotswap=True)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            self._loras.pop(key or "", None)
            self._slot = None
            # The slot may hold a partial copy now: put the zero LoRA back before anything else runs.
            self.pipe.load_lora_weights(self._zero_lora(), adapter_name=_SLOT, hotswap=True)
            self._slot = ""
            error = LoraMissingError(f"LoRA {key!r} does not fit the hot-swap slot: {str(exc)[:300]}")
            raise StyleFailed({key}, error) from exc
        self._slot = wanted
        self._stats["style_switches"] += 1


@contextlib.contextmanager
def adapter_names(unet: torch.nn.Module, names: list[str] | None) -> Iterator[None]:
    """Give every LoRA layer of the UNet per-sample ``adapter_names`` (peft's mixed-batch forward).

    diffusers passes no ``adapter_names`` through the UNet and peft's own hook helper does not work on
    it (NOTES §9), so a forward pre-hook injects them.
    """
    if not names:
        yield
        return
    from peft.tuners.lora import LoraLayer

    def inject(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        kwargs["adapter_names"] = names
        return args, kwargs

    handles = [
        m.register_forward_pre_hook(inject, with_kwargs=True) for m in unet.modules() if isinstance(m, LoraLayer)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
