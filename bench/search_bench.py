"""Search at catalogue size: the time of `GET /api/search`'s queries with and without the trigram
indexes (migration perf_0001), on a database with N styles (default 10,000).

    python bench/search_bench.py                    # seeds sl_search_bench once (10,000 styles)
    python bench/search_bench.py --styles 50000     # a bigger catalogue in its own database

Runs the search operation in-process (no HTTP, no cache) for a fixed list of queries — whole tags,
prefixes, substrings, artist names, misses — and prints median/p95 per query and overall, first
with the indexes, then with them dropped inside a transaction that is rolled back afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

QUERIES = [
    "portrait",
    "water",
    "watercolor",
    "ink",
    "neon",
    "art nouveau",
    "dreams",
    "kim",
    "anna",
    "zzqx",
    "scape",
    "an",
    "po",
    "ci",
    "lights",
    "misty forests",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", type=int, default=10000)
    parser.add_argument("-n", type=int, default=15, help="runs per query")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"postgresql+psycopg2://postgres@127.0.0.1:5432/sl_search_bench_{args.styles}"

    from load_bench import database_exists

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STYLELICENSE_ENV": "development",
        "SECRET_KEY": "s",
        "INTERNAL_API_TOKEN": "s",
        "STYLELICENSE_INSTANCE": tempfile.mkdtemp(prefix="sl-search-"),
        "PYTHONPATH": str(ROOT),
    }
    existed = database_exists(url, fresh=False)
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    if not existed:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "demo",
                "create",
                "--styles",
                str(args.styles),
                "--generations",
                str(args.styles * 2),
                "--likes",
                str(args.styles * 5),
                "--no-images",
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )

    from sqlalchemy import text

    from stylelicense.app import create_app
    from stylelicense.extensions import db
    from stylelicense.search import operations

    app = create_app(env=env)
    with app.app_context():
        counts = db.session.execute(
            text("SELECT (SELECT count(*) FROM styles), (SELECT count(*) FROM tags), (SELECT count(*) FROM artists)")
        ).one()
        print(
            f"{counts[0]:,} styles, {counts[1]:,} tags, {counts[2]:,} artists; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )

        def run(label: str) -> list[float]:
            everything = []
            print(f"\n{label}\n{'query':<16} {'styles':>6} {'artists':>7} {'median ms':>9} {'p95 ms':>7}")
            for q in QUERIES:
                samples = []
                result = operations.search(q, "all", 20)
                for _ in range(args.n):
                    started = time.perf_counter()
                    operations.search(q, "all", 20)
                    samples.append((time.perf_counter() - started) * 1000)
                samples.sort()
                everything += samples
                print(
                    f"{q:<16} {len(result['styles']):>6} {len(result['artists']):>7} "
                    f"{statistics.median(samples):>9.1f} {samples[int(0.95 * (len(samples) - 1))]:>7.1f}"
                )
            everything.sort()
            print(
                f"{'all queries':<16} {'':>6} {'':>7} {statistics.median(everything):>9.1f} "
                f"{everything[int(0.95 * (len(everything) - 1))]:>7.1f}"
            )
            return everything

        run("with trigram indexes")
        for name in (
            "ix_styles_title_trgm",
            "ix_tags_name_trgm",
            "ix_artists_artist_name_trgm",
            "ix_users_username_trgm",
        ):
            db.session.execute(text(f"DROP INDEX IF EXISTS {name}"))
        run("without them (dropped in a transaction, rolled back afterwards)")
        db.session.rollback()


if __name__ == "__main__":
    main()
