"""Training-image safeguard at full size: lookup time and recall of ``find_registered`` against an
``image_fingerprints`` table holding 100,000 styles' training images and the platform's outputs.

    python bench/safeguard_bench.py                       # 100,000 styles × 10 images, 100,000 outputs
    python bench/safeguard_bench.py --styles 10000        # smaller
    python bench/safeguard_bench.py --database-url postgresql+psycopg2://postgres@127.0.0.1/x --keep

It creates a throw-away PostgreSQL database (dropped at the end unless --keep), builds the schema from
the models, bulk-loads the fingerprints with COPY and runs the real lookup (the same function
POST /api/styles calls). Fingerprints are the rows the API writes: 9 windows per training image, 16 per
output. Most rows are synthetic (random 64-bit hashes, windows a few bits apart, as measured on real
pictures); ``--real`` real pictures (the provenance bench's generators) are registered among them and
then looked up as attacked copies (JPEG, resize, small crops) to measure recall, and unrelated real
pictures are looked up to count false positives. Prints one JSON line of results.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
BANDS = ("p0", "p1", "p2", "p3", "d0", "d1", "d2", "d3")


_RANDOM64 = "((floor(random() * 4294967296)::bigint << 32) | floor(random() * 4294967296)::bigint)"
_FLIP = "(1::bigint << floor(random() * 64)::int)"


def _insert_sql(source: str, count: int, windows: int, flips: int, owner: str, style: str) -> str:
    """Server-side generation: per picture one random pHash/dHash, each window ``flips`` random bits off."""
    near = " # ".join([_FLIP] * flips)
    bands = ", ".join(f"(({h} >> {shift}) & 65535)" for h in ("p", "d") for shift in (48, 32, 16, 0))
    return f"""
        INSERT INTO image_fingerprints (source, artist_id, style_id, phash, dhash, {", ".join(BANDS)})
        SELECT '{source}', {owner}, {style}, p, d, {bands}
        FROM (SELECT pic, CASE WHEN w = 0 THEN bp ELSE bp # {near} END AS p,
                           CASE WHEN w = 0 THEN bd ELSE bd # {near} END AS d
              FROM (SELECT pic, {_RANDOM64} AS bp, {_RANDOM64} AS bd FROM generate_series(0, {count - 1}) AS pic) AS b
              CROSS JOIN generate_series(0, {windows - 1}) AS w) AS rows"""


def fill(url: str, styles: int, images: int, outputs: int) -> dict:
    """Generate the fingerprints in PostgreSQL (indexes dropped while loading, then rebuilt; FK checks
    off: the artists and styles they name are not created)."""
    from stylelicense.styles.models import ImageFingerprint

    engine = create_engine(url)
    started = time.perf_counter()
    indexes = list(ImageFingerprint.__table__.indexes)
    with engine.connect() as connection:
        connection.execute(text("SET session_replication_role = replica"))
        for index in indexes:
            index.drop(connection)
        chunk = 100_000
        for first in range(0, styles * images, chunk):
            n = min(chunk, styles * images - first)
            owner = f"(pic + {first}) / {images} + 1"
            connection.execute(text(_insert_sql("artwork", n, 9, 3, owner, owner)))
            connection.commit()
            print(
                f"  {first + n:,} training images ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True
            )
        if outputs:
            connection.execute(text(_insert_sql("output", outputs, 16, 6, "NULL", f"pic % {max(styles, 1)} + 1")))
        connection.commit()
        loaded = time.perf_counter()
        for index in indexes:
            index.create(connection)
        connection.execute(text("ANALYZE image_fingerprints"))
        connection.commit()
    engine.dispose()
    return {"load_seconds": round(loaded - started, 1), "index_seconds": round(time.perf_counter() - loaded, 1)}


def _attacks(image: Image.Image, rng: np.random.Generator) -> dict[str, Image.Image]:
    def jpeg(im, q):
        buffer = io.BytesIO()
        im.save(buffer, "JPEG", quality=q)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    w, h = image.size
    a, b = (int(v) for v in rng.integers(0, round(0.04 * w) + 1, 2))
    c = int(rng.integers(0, round(0.04 * h) + 1))
    return {
        "jpeg_q70": jpeg(image, 70),
        "resize_50": image.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "crop_4pc_sides": image.crop((a, c, w - b, h)),
        "crop_4pc+resize+jpeg": jpeg(image.crop((a, 0, w, h - c)).resize((round(w * 0.7), round(h * 0.7))), 80),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=10, help="training images per style")
    parser.add_argument("--outputs", type=int, default=100_000, help="platform outputs registered")
    parser.add_argument("--real", type=int, default=150, help="real pictures registered and attacked")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from provenance_bench import illustration, landscape, still_life

    os.environ.setdefault("STYLELICENSE_ENV", "testing")
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.setdefault("INTERNAL_API_TOKEN", "bench")
    name = None
    url = args.database_url
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    if url is None:
        name = f"sl_safeguard_bench_{secrets.token_hex(4)}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    os.environ["DATABASE_URL"] = url
    from stylelicense.app import create_app, import_all_models
    from stylelicense.extensions import db
    from stylelicense.styles import safeguards

    app = create_app()
    try:
        with app.app_context():
            import_all_models()
            with db.engine.begin() as connection:  # the search indexes' operator class (migration perf_0001)
                connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            db.create_all()
        result: dict = {"styles": args.styles, "images_per_style": args.images, "outputs": args.outputs}
        result.update(fill(url, args.styles, args.images, args.outputs))

        rng = np.random.default_rng(7)
        makers = (illustration, landscape, still_life)
        real = [makers[i % 3](rng, 640, 560) for i in range(args.real)]
        unrelated = [makers[i % 3](rng, 640, 560) for i in range(args.real)]
        with app.app_context():
            uploads = [safeguards.hash_upload(image) for image in real]
            for i, upload in enumerate(uploads):
                safeguards.register_artworks([upload], artist_id=10_000_000 + i, style_id=10_000_000 + i)
            db.session.execute(text("SET session_replication_role = replica"))
            db.session.commit()

            timings: list[float] = []
            found: dict[str, list[bool]] = {}
            for image in real:
                for attack, copy in _attacks(image, rng).items():
                    hashed = safeguards.hash_upload(copy)
                    started = time.perf_counter()
                    match = safeguards.find_registered(hashed.phash, hashed.dhash, artist_id=1)
                    timings.append(time.perf_counter() - started)
                    found.setdefault(attack, []).append(match is not None)
            false_positives = 0
            for image in unrelated:
                hashed = safeguards.hash_upload(image)
                started = time.perf_counter()
                false_positives += safeguards.find_registered(hashed.phash, hashed.dhash, artist_id=1) is not None
                timings.append(time.perf_counter() - started)
            # Random (miss) lookups, as most uploads are.
            for _ in range(args.queries):
                p, d = (int(v) for v in rng.integers(0, 2**63, 2))
                started = time.perf_counter()
                safeguards.find_registered(p, d, artist_id=1)
                timings.append(time.perf_counter() - started)
            hash_started = time.perf_counter()
            for image in real[:50]:
                safeguards.hash_upload(image)
            hash_ms = (time.perf_counter() - hash_started) / min(50, len(real)) * 1000
            rows = db.session.scalar(text("SELECT count(*) FROM image_fingerprints"))

        timings.sort()
        result.update(
            {
                "table_rows": rows,
                "lookups": len(timings),
                "lookup_ms_median": round(statistics.median(timings) * 1000, 2),
                "lookup_ms_p95": round(timings[int(len(timings) * 0.95)] * 1000, 2),
                "lookup_ms_max": round(timings[-1] * 1000, 2),
                "hash_upload_ms": round(hash_ms, 1),
                "recall": {attack: f"{sum(hits)}/{len(hits)}" for attack, hits in found.items()},
                "false_positives": f"{false_positives}/{len(unrelated)}",
            }
        )
        print(json.dumps(result))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if name and not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
