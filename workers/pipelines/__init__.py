"""Plain-Python ML code for the workers (no Celery, Flask or database imports).

- ``base_model``: ``load_pipeline`` ("tiny" offline test pipeline, "sd15-random", or a real model),
  the platform-wide LoRA shape.
- ``training``: ``train_lora`` and its recipe (``TrainingConfig``).
- ``inference``: ``InferenceEngine`` (one warm pipeline, per-request fused LoRA), ``build_prompt``, ``SIZES``.
- ``batching``: ``BatchEngine`` (what the generation worker runs: many requests per denoising loop,
  one generator each, the style's LoRA kept fused across calls, per-sample adapters for mixed styles).
- ``signing``: visible signature, licence metadata, thumbnails (Pillow only: importable without torch).

Modules are imported individually; this package imports nothing so that ``signing`` stays light.
"""
