"""What a style LoRA training run takes and gives (workers/pipelines/training.py): its settings, the
progress it reports, its result, and the errors it raises."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


class TrainingInputError(ValueError):
    """The training input is unusable (no images, unreadable image, empty trigger…). Do not retry."""

    retryable = False


class TrainingCancelled(RuntimeError):
    """``should_stop`` asked the run to stop; nothing was saved."""

    retryable = False


class TrainingDivergedError(RuntimeError):
    """The loss became NaN/inf. A retry with another seed may succeed."""

    retryable = True


@dataclass
class TrainingProgress:
    """A progress report; ``current_epoch`` is 1-based, ``estimated_seconds`` is the time left."""

    current_epoch: int
    total_epochs: int
    progress_percent: int
    estimated_seconds: int
    step: int
    total_steps: int


@dataclass
class TrainingResult:
    """What a finished run produced. ``seconds`` is the whole call (loading and caching included);
    ``steps_per_second`` is the training loop alone; ``final_loss`` is the mean of the last 50 steps."""

    lora_path: Path
    steps: int
    epochs: int
    seconds: float
    steps_per_second: float
    final_loss: float
    # ``(step, mean loss since the previous point)``, at most LOSS_CURVE_POINTS of them (the owner's report).
    loss_curve: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class TrainingConfig:
    """The platform's style-LoRA recipe (NOTES §1). Rank/alpha/targets are fixed platform-wide in
    ``base_model`` so every LoRA fits every warm inference pipeline.

    ``max_steps`` and ``resolution`` are the overrides tests and benchmarks use to be fast.
    """

    learning_rate: float = 1e-4
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    lr_scheduler: str = "constant_with_warmup"
    warmup_ratio: float = 0.05
    snr_gamma: float | None = 5.0
    epochs: int = 10
    # images x repeats ~= 300 samples per epoch whatever the number of images
    samples_per_epoch: int = 300
    batch_size: int = 2
    caption_dropout: float = 0.07
    hflip: bool = True
    resolution: int = 512
    # bf16 autocast where the GPU supports it, else fp16 with a grad scaler; LoRA weights stay fp32.
    mixed_precision: bool = True
    gradient_checkpointing: bool = False
    max_steps: int | None = None
    # LoRAs are served in fp16 anyway; halves the file (~6 MB at rank 16 for SD 1.5).
    save_fp16: bool = True

    def plan(self, num_images: int) -> tuple[int, int, int]:
        """``(epochs, steps_per_epoch, total_steps)`` for ``num_images`` images.

        Without an override every epoch is ``max(samples_per_epoch, num_images)`` samples (each image
        repeated ~300/n times), so the step count is ~1,500 for any 10–100 images. With ``max_steps``
        the run is exactly that many steps, spread over at most ``epochs`` epochs.
        """
        if num_images < 1:
            raise TrainingInputError("at least one image is needed")
        if self.max_steps is not None:
            if self.max_steps < 1:
                raise TrainingInputError("max_steps must be >= 1")
            epochs = min(self.epochs, self.max_steps)
            steps_per_epoch = math.ceil(self.max_steps / epochs)
            epochs = math.ceil(self.max_steps / steps_per_epoch)
            return epochs, steps_per_epoch, self.max_steps
        samples = max(self.samples_per_epoch, num_images)
        steps_per_epoch = math.ceil(samples / self.batch_size)
        return self.epochs, steps_per_epoch, self.epochs * steps_per_epoch

    def steps_for(self, num_images: int) -> int:
        """Total optimizer steps for ``num_images`` images (``max_steps`` if set)."""
        return self.plan(num_images)[2]

    def repeats_for(self, num_images: int) -> int:
        """How often each image is seen per epoch (rounded up)."""
        return math.ceil(max(self.samples_per_epoch, num_images) / num_images)
