"""Style LoRA training (SD 1.5 UNet, diffusers + peft), following the recipe of NOTES §1.

Plain Python: the Celery task loads the images from storage, calls :func:`train_lora` and uploads the
resulting ``pytorch_lora_weights.safetensors``.
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from diffusers.optimization import get_scheduler
from diffusers.training_utils import cast_training_params, compute_snr
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from PIL import Image

from .base_model import LORA_ALPHA, LORA_RANK, LORA_TARGET_MODULES, default_device, load_pipeline
from .inference import build_prompt
from .training_config import (
    TrainingCancelled,
    TrainingConfig,
    TrainingDivergedError,
    TrainingInputError,
    TrainingProgress,
    TrainingResult,
)
from .training_data import cache_latents, encode_prompts, index_stream, prepare_image

__all__ = [
    "LORA_WEIGHT_NAME",
    "TrainingCancelled",
    "TrainingConfig",
    "TrainingDivergedError",
    "TrainingInputError",
    "TrainingProgress",
    "TrainingResult",
    "train_lora",
]

LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
_ADAPTER_NAME = "default"
LOSS_CURVE_POINTS = 200
_LOSS_WINDOW = 50


def _validate_inputs(images: list[tuple[Image.Image, list[str]]], trigger: str) -> None:
    if not isinstance(trigger, str) or not trigger.strip():
        raise TrainingInputError("the style trigger must be a non-empty string")
    if not images:
        raise TrainingInputError("at least one training image is needed")
    for i, item in enumerate(images):
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise TrainingInputError(f"image {i}: expected (PIL.Image, tags)")
        image, tags = item
        if not isinstance(image, Image.Image):
            raise TrainingInputError(f"image {i}: not a PIL image")
        if min(image.size) < 8:
            raise TrainingInputError(f"image {i}: too small ({image.size[0]}x{image.size[1]})")
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            raise TrainingInputError(f"image {i}: tags must be a list of strings")


def _amp_dtype(device: torch.device, config: TrainingConfig) -> torch.dtype | None:
    if device.type != "cuda" or not config.mixed_precision:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def train_lora(
    base_model: str,
    images: list[tuple[Image.Image, list[str]]],
    trigger: str,
    output_dir: str | Path,
    *,
    config: TrainingConfig | None = None,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    progress_interval_s: float = 30.0,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Train a style LoRA on the UNet of ``base_model`` and save it to ``output_dir``.

    Args:
        base_model: ``"tiny"``, ``"sd15-random"``, a diffusers model id or a local directory.
        images: ``(image, tags)`` pairs; captions are ``"<trigger>, <tags>"``.
        trigger: the style's trigger word(s).
        output_dir: where ``pytorch_lora_weights.safetensors`` is written (created if missing).
        config: the recipe; defaults to :class:`TrainingConfig`.
        on_progress: called at least every ``progress_interval_s`` seconds, at each epoch end and at
            the end (100 %); never twice for the same step.
        seed: makes the run reproducible on a given device.
        should_stop: polled every step; when it returns True the run raises :class:`TrainingCancelled`.

    Raises:
        TrainingInputError: unusable input (non-retryable).
        TrainingCancelled: ``should_stop`` returned True.
        TrainingDivergedError: the loss became non-finite.
    """
    config = config or TrainingConfig()
    _validate_inputs(images, trigger)
    if config.resolution % 8 or config.resolution < 64:
        raise TrainingInputError("resolution must be a multiple of 8 and at least 64")
    epochs, steps_per_epoch, total_steps = config.plan(len(images))
    output_dir = Path(output_dir)
    started = time.monotonic()

    device = torch.device(default_device())
    amp_dtype = _amp_dtype(device, config)
    weight_dtype = amp_dtype or torch.float32
    pipe = load_pipeline(base_model, device=str(device), dtype=weight_dtype)
    try:
        return _train(
            pipe,
            images,
            trigger,
            output_dir,
            config=config,
            plan=(epochs, steps_per_epoch, total_steps),
            device=device,
            amp_dtype=amp_dtype,
            on_progress=on_progress,
            progress_interval_s=progress_interval_s,
            seed=seed,
            should_stop=should_stop,
            started=started,
        )
    finally:
        del pipe
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _train(
    pipe: StableDiffusionPipeline,
    images: list[tuple[Image.Image, list[str]]],
    trigger: str,
    output_dir: Path,
    *,
    config: TrainingConfig,
    plan: tuple[int, int, int],
    device: torch.device,
    amp_dtype: torch.dtype | None,
    on_progress: Callable[[TrainingProgress], None] | None,
    progress_interval_s: float,
    seed: int,
    should_stop: Callable[[], bool] | None,
    started: float,
) -> TrainingResult:
    epochs, steps_per_epoch, total_steps = plan
    weight_dtype = amp_dtype or torch.float32
    rng = random.Random(seed)
    generator = torch.Generator(device=device).manual_seed(seed)

    # --- cache VAE latents and text embeddings once: both encoders are frozen
    try:
        pixels = [prepare_image(image, config.resolution) for image, _ in images]
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # lazily decoded files fail here, on first pixel access, not at open()
        raise TrainingInputError(f"unreadable training image: {exc}") from exc
    latent_mean, latent_std = cache_latents(pipe, pixels, config.hflip, device)
    del pixels
    scaling = pipe.vae.config.scaling_factor
    captions = [build_prompt(trigger, list(tags)) for _, tags in images]
    text_embeds = encode_prompts(pipe, captions, device).to(weight_dtype)
    empty_embed = encode_prompts(pipe, [""], device).to(weight_dtype)
    pipe.vae.to("cpu")  # not needed for training; frees its GPU memory
    pipe.text_encoder.to("cpu")

    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    prediction_type = noise_scheduler.config.prediction_type

    # --- LoRA on the UNet only (NOTES §1)
    unet = pipe.unet
    unet.requires_grad_(False)
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)  # the gaussian LoRA init draws from the global RNG
        unet.add_adapter(
            LoraConfig(
                r=LORA_RANK,
                lora_alpha=LORA_ALPHA,
                init_lora_weights="gaussian",
                target_modules=list(LORA_TARGET_MODULES),
            ),
            adapter_name=_ADAPTER_NAME,
        )
    if amp_dtype is not None:
        cast_training_params(unet, dtype=torch.float32)
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    unet.train()
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    lr_scheduler = get_scheduler(
        config.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=round(config.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    indices = index_stream(len(images), rng)
    views = latent_mean.shape[1]
    recent_losses: deque[torch.Tensor] = deque(maxlen=_LOSS_WINDOW)
    # The curve averages buckets of steps on the device: no host sync per step.
    curve_every = max(1, math.ceil(total_steps / LOSS_CURVE_POINTS))
    curve: list[tuple[int, torch.Tensor]] = []
    bucket: list[torch.Tensor] = []
    loop_start = time.monotonic()
    last_emit = loop_start
    last_emitted_step = 0

    def emit(step: int, epoch: int) -> None:
        nonlocal last_emit, last_emitted_step
        if on_progress is None or step == last_emitted_step:
            return
        _check_finite(recent_losses, step)
        elapsed = time.monotonic() - loop_start
        remaining = 0 if step >= total_steps else round(elapsed / step * (total_steps - step))
        on_progress(
            TrainingProgress(
                current_epoch=epoch,
                total_epochs=epochs,
                progress_percent=min(100, step * 100 // total_steps),
                estimated_seconds=int(remaining),
                step=step,
                total_steps=total_steps,
            )
        )
        last_emit = time.monotonic()
        last_emitted_step = step

    step = 0
    for epoch in range(1, epochs + 1):
        for _ in range(steps_per_epoch):
            if step >= total_steps:
                break
            if should_stop is not None and should_stop():
                raise TrainingCancelled(f"stopped at step {step}/{total_steps}")
            idx = [next(indices) for _ in range(config.batch_size)]
            view = [rng.randrange(views) for _ in idx]
            drop = [rng.random() < config.caption_dropout for _ in idx]
            idx_t = torch.tensor(idx, device=device)
            view_t = torch.tensor(view, device=device)
            mean = latent_mean[idx_t, view_t]
            std = latent_std[idx_t, view_t]
            eps = torch.randn(mean.shape, generator=generator, device=device, dtype=mean.dtype)
            latents = (mean + std * eps) * scaling
            embeds = torch.stack([empty_embed[0] if d else text_embeds[i] for i, d in zip(idx, drop, strict=True)])

            noise = torch.randn(latents.shape, generator=generator, device=device, dtype=latents.dtype)
            timesteps = torch.randint(
                0,
                noise_scheduler.config.num_train_timesteps,
                (latents.shape[0],),
                generator=generator,
                device=device,
            )
            noisy = noise_scheduler.add_noise(latents, noise, timesteps)
            if prediction_type == "v_prediction":
                target = noise_scheduler.get_velocity(latents, noise, timesteps)
            else:
                target = noise

            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                pred = unet(noisy.to(weight_dtype), timesteps, embeds, return_dict=False)[0]
            loss = _loss(pred.float(), target.float(), timesteps, noise_scheduler, config.snr_gamma)

            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
            lr_scheduler.step()
            recent_losses.append(loss.detach())
            bucket.append(loss.detach())
            step += 1
            if len(bucket) == curve_every or step == total_steps:
                curve.append((step, torch.stack(bucket).mean()))
                bucket = []
            if time.monotonic() - last_emit >= progress_interval_s:
                emit(step, epoch)
        emit(step, epoch)  # epoch end; the last one is also the 100 % report

    _check_finite(recent_losses, step)
    final_loss = float(torch.stack(list(recent_losses)).mean()) if recent_losses else float("nan")
    train_seconds = time.monotonic() - loop_start
    lora_path = _save(unet, output_dir, config)
    seconds = time.monotonic() - started
    return TrainingResult(
        lora_path=lora_path,
        steps=step,
        epochs=epochs,
        seconds=seconds,
        steps_per_second=step / train_seconds if train_seconds > 0 else float("inf"),
        final_loss=final_loss,
        loss_curve=[(at, float(value)) for at, value in curve],
    )


def _loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    timesteps: torch.Tensor,
    noise_scheduler: DDPMScheduler,
    snr_gamma: float | None,
) -> torch.Tensor:
    """MSE, weighted per sample by min-SNR-γ (Hang et al. 2023) when ``snr_gamma`` is set."""
    if snr_gamma is None:
        return F.mse_loss(pred, target)
    snr = compute_snr(noise_scheduler, timesteps)
    # epsilon targets: min(SNR, γ)/SNR; v targets carry an extra SNR+1 factor.
    denominator = snr + 1 if noise_scheduler.config.prediction_type == "v_prediction" else snr
    weights = torch.clamp(snr, max=snr_gamma) / denominator
    per_sample = F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3))
    return (per_sample * weights).mean()


def _check_finite(losses: deque[torch.Tensor], step: int) -> None:
    # Checked only when reporting so the loop does not sync with the GPU every step.
    if losses and not torch.isfinite(torch.stack(list(losses))).all():
        raise TrainingDivergedError(f"loss is not finite at step {step}")


def _save(unet: torch.nn.Module, output_dir: Path, config: TrainingConfig) -> Path:
    state = get_peft_model_state_dict(unet, adapter_name=_ADAPTER_NAME)
    dtype = torch.float16 if config.save_fp16 else torch.float32
    state = {k: v.detach().to("cpu", dtype=dtype).contiguous() for k, v in state.items()}
    output_dir.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(
        output_dir,
        unet_lora_layers=convert_state_dict_to_diffusers(state),
        safe_serialization=True,
        weight_name=LORA_WEIGHT_NAME,
    )
    return output_dir / LORA_WEIGHT_NAME
