"""Training data for a style LoRA run (workers/pipelines/training.py): images to tensors, the image
order, latents and prompt embeddings computed once before the loop."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image, ImageOps


def prepare_image(image: Image.Image, resolution: int) -> torch.Tensor:
    """Upright RGB, shorter side to ``resolution``, centre crop, as a [-1, 1] CHW float tensor."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    image = ImageOps.fit(image.convert("RGB"), (resolution, resolution), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def index_stream(n: int, rng: random.Random) -> Iterator[int]:
    """Endless concatenation of shuffled permutations: every image is seen equally often (±1)."""
    while True:
        order = list(range(n))
        rng.shuffle(order)
        yield from order


@torch.no_grad()
def cache_latents(
    pipe: StableDiffusionPipeline, pixels: list[torch.Tensor], hflip: bool, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode every image (and its mirror) once; keep the posterior's mean and std so each step can
    still sample a fresh latent, as the reference scripts do. Shapes: ``[n, views, 4, h, w]``."""
    vae = pipe.vae
    if vae.dtype != torch.float32:
        vae.to(dtype=torch.float32)  # fp32 for the one-off encode: cheap, and no fp16 overflow
    means, stds = [], []
    for start in range(0, len(pixels), 4):
        batch = torch.stack(pixels[start : start + 4]).to(device)
        views = [batch, torch.flip(batch, dims=[3])] if hflip else [batch]
        view_means, view_stds = [], []
        for view in views:
            dist = vae.encode(view).latent_dist
            view_means.append(dist.mean)
            view_stds.append(dist.std)
        means.append(torch.stack(view_means, dim=1))
        stds.append(torch.stack(view_stds, dim=1))
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def encode_prompts(pipe: StableDiffusionPipeline, prompts: list[str], device: torch.device) -> torch.Tensor:
    tokenizer = pipe.tokenizer
    ids = tokenizer(
        prompts,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids.to(device)
    return pipe.text_encoder(ids)[0]
