"""LoRA training on the tiny model: real diffusers + peft, a few steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from workers.pipelines.base_model import LORA_RANK, LORA_TARGET_MODULES, TINY
from workers.pipelines.training import (
    TrainingCancelled,
    TrainingConfig,
    TrainingInputError,
    TrainingProgress,
    train_lora,
)

from .conftest import TRAIN_EPOCHS, TRAIN_LR, TRAIN_RESOLUTION, TRAIN_STEPS


def _target_linear_count(unet: torch.nn.Module) -> int:
    suffixes = tuple("." + m for m in LORA_TARGET_MODULES)
    return sum(1 for name, m in unet.named_modules() if isinstance(m, torch.nn.Linear) and name.endswith(suffixes))


def test_training_saves_a_unet_lora(trained_lora, tiny_pipeline) -> None:
    result, _ = trained_lora
    assert result.lora_path.name == "pytorch_lora_weights.safetensors"
    assert result.steps == TRAIN_STEPS
    assert result.epochs == TRAIN_EPOCHS
    assert result.steps_per_second > 0
    assert result.seconds > 0
    assert torch.isfinite(torch.tensor(result.final_loss))
    # The owner's loss curve: sampled steps in order, ending at the last step, finite values.
    steps = [step for step, _ in result.loss_curve]
    assert steps == sorted(steps) and steps[-1] == TRAIN_STEPS and 1 <= len(steps) <= TRAIN_STEPS
    assert all(torch.isfinite(torch.tensor(value)) for _, value in result.loss_curve)

    state = load_file(result.lora_path)
    assert state and all(k.startswith("unet.") and "lora" in k for k in state)
    # One down and one up matrix for every targeted Linear of the UNet, none for the text encoder.
    assert len(state) == 2 * _target_linear_count(tiny_pipeline.unet)
    downs = [v for k, v in state.items() if "lora.down" in k or "lora_A" in k]
    ups = [v for k, v in state.items() if "lora.up" in k or "lora_B" in k]
    assert len(downs) == len(ups) == len(state) // 2
    assert all(v.shape[0] == LORA_RANK for v in downs)
    assert all(v.dtype == torch.float16 for v in state.values())
    # The up matrices start at zero: non-zero means training actually updated them.
    assert all(v.abs().sum() > 0 for v in ups)


def test_progress_reports_at_epoch_ends_and_finishes_at_100(trained_lora) -> None:
    _, reports = trained_lora
    assert [r.progress_percent for r in reports] == [50, 100]
    assert [r.current_epoch for r in reports] == [1, 2]
    assert all(r.total_epochs == TRAIN_EPOCHS and r.total_steps == TRAIN_STEPS for r in reports)
    assert reports[-1].step == TRAIN_STEPS
    assert reports[-1].estimated_seconds == 0


def test_progress_every_interval_is_monotonic(tiny_model_dir, training_images, tmp_path: Path) -> None:
    reports: list[TrainingProgress] = []
    config = TrainingConfig(resolution=TRAIN_RESOLUTION, max_steps=5, epochs=1, learning_rate=TRAIN_LR)
    train_lora(
        TINY,
        training_images[:3],
        "style",
        tmp_path,
        config=config,
        on_progress=reports.append,
        progress_interval_s=0.0,
    )
    steps = [r.step for r in reports]
    percents = [r.progress_percent for r in reports]
    assert steps == [1, 2, 3, 4, 5]  # one report per step with a zero interval, none duplicated
    assert percents == sorted(percents) and percents[-1] == 100 and percents[0] < 100
    assert all(r.estimated_seconds >= 0 for r in reports)


def test_should_stop_cancels_without_saving(tiny_model_dir, training_images, tmp_path: Path) -> None:
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 2

    config = TrainingConfig(resolution=TRAIN_RESOLUTION, max_steps=10)
    with pytest.raises(TrainingCancelled):
        train_lora(TINY, training_images[:2], "style", tmp_path, config=config, should_stop=stop)
    assert len(calls) == 3
    assert not (tmp_path / "pytorch_lora_weights.safetensors").exists()


@pytest.mark.parametrize(
    ("images", "trigger"),
    [
        ([], "style"),
        ([(Image.new("RGB", (64, 64)), ["a"])], "  "),
        ([("not an image", ["a"])], "style"),
        ([(Image.new("RGB", (64, 64)), "tags as a string")], "style"),
        ([(Image.new("RGB", (4, 4)), ["a"])], "style"),
    ],
)
def test_bad_input_is_rejected_before_loading(images, trigger, tmp_path: Path, monkeypatch) -> None:
    def no_load(*args, **kwargs):
        raise AssertionError("the model must not be loaded for bad input")

    monkeypatch.setattr("workers.pipelines.training.load_pipeline", no_load)
    with pytest.raises(TrainingInputError):
        train_lora(TINY, images, trigger, tmp_path, config=TrainingConfig(max_steps=2))
    assert TrainingInputError.retryable is False


def test_default_recipe() -> None:
    config = TrainingConfig()
    assert (config.learning_rate, config.weight_decay, config.max_grad_norm) == (1e-4, 1e-2, 1.0)
    assert (config.snr_gamma, config.epochs, config.batch_size, config.resolution) == (5.0, 10, 2, 512)
    assert 0.05 <= config.caption_dropout <= 0.10 and config.hflip
    assert config.lr_scheduler == "constant_with_warmup" and config.warmup_ratio == 0.05


@pytest.mark.parametrize("num_images", [1, 10, 13, 37, 64, 86, 100])
def test_step_count_is_about_1500_for_any_dataset_size(num_images: int) -> None:
    config = TrainingConfig()
    epochs, per_epoch, total = config.plan(num_images)
    assert total == config.steps_for(num_images) == epochs * per_epoch
    assert 1450 <= total <= 1550
    assert config.repeats_for(num_images) * num_images >= 300


def test_step_count_grows_past_300_images() -> None:
    assert TrainingConfig().steps_for(600) == 10 * 300


@pytest.mark.parametrize(
    ("max_steps", "epochs", "expected"), [(6, 2, (2, 3, 6)), (4, 10, (4, 1, 4)), (7, 3, (3, 3, 7))]
)
def test_max_steps_override(max_steps: int, epochs: int, expected: tuple[int, int, int]) -> None:
    assert TrainingConfig(max_steps=max_steps, epochs=epochs).plan(10) == expected


def test_each_image_is_seen_equally_often() -> None:
    import random
    from collections import Counter
    from itertools import islice

    from workers.pipelines.training_data import index_stream as _index_stream

    counts = Counter(islice(_index_stream(7, random.Random(0)), 300))
    assert set(counts) == set(range(7))
    assert max(counts.values()) - min(counts.values()) <= 1  # 300 samples of 7 images: 42 or 43 each
