"""Build the meaning guard's "not this menu" bank: ``python -m bench.semantic_bank``.

Writes ``ivr/semantic/data/elsewhere.txt`` (1,500 requests, one per line) and
``elsewhere.npy`` (their vectors, float16, from the CPU model of :mod:`ivr.semantic.fast`).
The requests are a fixed sample of CLINC150's *train* split (CC BY 3.0, Larson et al.
2019; see ``ivr/semantic/data/NOTICE``) from the eight domains that are not banking or
credit cards: everyday requests no support menu should route. Validation rows are never
used, so the figures in docs/matching.md stay held out. Run it again only when the model
or the sample changes, and re-measure with ``python bench/semantic.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ivr.semantic import Embedder  # noqa: E402
from ivr.semantic.fast import fast_model  # noqa: E402
from ivr.semantic.guard import BANK_TEXTS, BANK_VECTORS  # noqa: E402

CLINC = Path(os.environ.get("CLINC150_DIR", "/work/shared/data/clinc150"))
CARD_DOMAINS = ("banking", "credit_cards")
SIZE = 1500
SEED = 15


def sample(clinc: Path = CLINC, size: int = SIZE, seed: int = SEED) -> list[str]:
    """The bank's requests: CLINC150 train, the non-card domains, a fixed sample."""
    domains = json.loads((clinc / "domains.json").read_text())
    card = {i for d in CARD_DOMAINS for i in domains[d]}
    texts = set()
    for line in (clinc / "train.jsonl").read_text().splitlines():
        doc = json.loads(line)
        if doc["intent"] not in card and doc["intent"] != "oos":
            texts.add(" ".join(doc["text"].split()))
    return random.Random(seed).sample(sorted(texts), size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=tempfile.gettempdir(),
                        help="where the CPU model is built or found")
    args = parser.parse_args(argv)
    texts = sample()
    embedder = Embedder(fast_model(Path(args.cache)))
    vectors = embedder.embed(texts).astype(np.float16)
    BANK_TEXTS.write_text("\n".join(texts) + "\n", encoding="utf-8")
    np.save(BANK_VECTORS, vectors)
    print(f"wrote {len(texts)} requests to {BANK_TEXTS} and {BANK_VECTORS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
