"""A generator as ONNX: one graph that onnxruntime (or any ONNX runtime, a browser's included) samples without PyTorch.

The graph is the library's generator in eval mode (the EMA copy for a run, as `load_generator` gives it) with named
inputs: `z` (N, latent_dim) float32 and, for a class-conditional generator, `labels` (N,) int64 class indices; its
output `images` (N, 1, 28, 28) float32 lies in [-1, 1]. N is any batch size. The InfoGAN code stays part of z, read
off it inside the graph as `gan_core.latent` reads it (the argmax of z's first K entries), so one z means one image
here and in the app. Every export is run once in onnxruntime against the library before it is handed out, and the
largest difference is written into its card.

The exporter is `torch.onnx.export`'s default since torch 2.9, the torch.export-based one (`dynamo=True`): it needs
`onnx` and `onnxscript`. The TorchScript exporter (`dynamo=False`) still exists in torch 2.14 but warns that it is
deprecated, so it is not used. onnx, onnxscript and onnxruntime are optional: the app and the CLI work without
them, and only an export asks for them (`missing_packages`, `require_packages`).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gan_core.cards import trained_classes
from gan_core.checkpoints import LoadedGenerator, export_card
from gan_core.data import CLASS_NAMES
from gan_core.models import IMAGE_SHAPE, Generator

if TYPE_CHECKING:
    import onnxruntime

PACKAGES = ("onnx", "onnxscript", "onnxruntime")  # the exporter needs the first two; the check after it the third
INSTALL = ".venv/bin/pip install onnx onnxscript onnxruntime"
FORMAT_ONNX = "fashion-gan-studio/generator-onnx/1"
OPSET = 18          # the opset torch 2.14's exporter writes its operators in (torchlib): no conversion step
TOLERANCE = 1e-4    # largest |onnxruntime - library| accepted, on images in [-1, 1]
CHECK_IMAGES = 7    # latents the export is checked on: not the batch it was traced with (2)
MIME = "application/octet-stream"


class OnnxUnavailable(RuntimeError):
    """ONNX export needs packages this environment does not have; the message says how to install them."""


class OnnxExportError(RuntimeError):
    """The exported graph does not reproduce the library's generator (an exporter bug, never the user's input)."""


def missing_packages() -> list[str]:
    """The ONNX packages that cannot be imported here (without importing any of them: cheap on every page run)."""
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def install_hint(missing: list[str] | tuple[str, ...]) -> str:
    """What is missing and the two ways to install it."""
    verb = "is" if len(missing) == 1 else "are"
    return (f"ONNX export needs the packages {', '.join(PACKAGES)}; {', '.join(missing)} {verb} not installed. "
            f"Install them with `{INSTALL}` (or `bash scripts/bootstrap.sh`, which installs requirements.txt).")


def require_packages() -> None:
    """OnnxUnavailable saying how to install what is missing, before any work is done."""
    missing = missing_packages()
    if missing:
        raise OnnxUnavailable(install_hint(missing))


# ----------------------------------------------------------------------------- the graph
def example_inputs(generator: Generator, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The graph's inputs for n images, as a user feeds them: Gaussian z and, when conditional, classes 0-9 cycling."""
    rng = np.random.default_rng(seed)
    feed = {"z": rng.standard_normal((n, generator.latent_dim), dtype=np.float32)}
    if generator.num_classes:
        feed["labels"] = np.arange(n, dtype=np.int64) % generator.num_classes
    return feed


@contextmanager
def evaluating(generator: Generator) -> Iterator[None]:
    """The generator in eval mode (BatchNorm's running statistics, no dropout) for a while, its own mode restored."""
    was = generator.training
    generator.eval()
    try:
        yield
    finally:
        generator.train(was)


@torch.no_grad()
def library_images(generator: Generator, feed: dict[str, np.ndarray]) -> np.ndarray:
    """What the library's generator makes of the same inputs (in eval mode, as exported)."""
    labels = torch.from_numpy(feed["labels"]) if "labels" in feed else None
    with evaluating(generator):
        return generator(torch.from_numpy(feed["z"]), labels).numpy()


class _InRange(torch.nn.Module):
    """The generator with its output clamped to [-1, 1]: a no-op on torch's tanh, whose values never leave it, while
    onnxruntime's faster tanh can overshoot by 2e-7; the graph's promise is then exact, not approximate."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator
        self.training = False  # the wrapper's own flag only: `evaluating` sets the generator's

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, labels).clamp(-1.0, 1.0)


def onnx_model_bytes(generator: Generator) -> bytes:
    """The generator (in eval mode) as a serialised ONNX model with a dynamic batch dimension, in memory."""
    require_packages()
    feed = {k: torch.from_numpy(v) for k, v in example_inputs(generator, 2).items()}
    batch = torch.export.Dim("N")  # one dimension shared by z and labels: one image per row of each
    args = tuple(feed.values())
    with evaluating(generator), torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*axis name: N will not be used")  # z's N and labels' N are one
        program = torch.onnx.export(_InRange(generator), args, dynamo=True, input_names=list(feed),
                                    output_names=["images"], opset_version=OPSET, verbose=False,
                                    dynamic_shapes=tuple({0: batch} for _ in args))
    model = program.model_proto
    # The exporter quietly fixes a dimension that the traced code made constant (e.g. by `len(z)`): refuse that.
    fixed = [i.name for i in model.graph.input if not i.type.tensor_type.shape.dim[0].dim_param]
    if fixed:
        raise OnnxExportError(f"the exporter fixed the batch size of {', '.join(fixed)} to 2, so the graph would take "
                              "only 2 images: the generator's forward turns the batch size into a constant")
    _describe(model, generator)
    return model.SerializeToString()


def _describe(model: Any, generator: Generator) -> None:
    """Metadata inside the .onnx itself, so the file alone says what its inputs mean."""
    from onnx import helper

    k = generator.cfg.info_codes
    model.doc_string = (f"Fashion GAN Studio generator ({generator.cfg.arch}). z: (N, {generator.latent_dim}) float32 "
                        "standard Gaussian" + (f", its InfoGAN code the argmax of its first {k} entries" if k else "")
                        + ("; labels: (N,) int64 class indices 0-9" if generator.num_classes else "")
                        + "; images: (N, 1, 28, 28) float32 in [-1, 1].")
    helper.set_model_props(model, {"format": FORMAT_ONNX, "latent_dim": str(generator.latent_dim),
                                   "num_classes": str(generator.num_classes), "info_codes": str(k),
                                   "value_range": "[-1, 1]"})


def session(model: bytes) -> onnxruntime.InferenceSession:
    """An onnxruntime session on the CPU with one thread (the check must not crowd a machine that trains)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def max_difference(model: bytes, generator: Generator, n: int = CHECK_IMAGES, seed: int = 0) -> float:
    """Largest |onnxruntime - library| over n images from the same inputs."""
    feed = example_inputs(generator, n, seed)
    try:
        (images,) = session(model).run(["images"], feed)
    except Exception as exc:  # onnxruntime's own error types: the graph it was given cannot run these inputs
        raise OnnxExportError(f"onnxruntime cannot run the exported graph on {n} images: {exc}") from exc
    expected = library_images(generator, feed)
    if images.shape != expected.shape:
        raise OnnxExportError(f"the ONNX graph made images of shape {images.shape}, the library {expected.shape}")
    return float(np.abs(images - expected).max())


# ----------------------------------------------------------------------------- the export and its card
@dataclass(frozen=True)
class OnnxExport:
    """An exported generator in memory: the .onnx bytes and its card (what `write_card` puts beside it)."""

    model: bytes
    card: dict[str, Any]


def export_onnx(loaded: LoadedGenerator, name: str, command: str = "") -> OnnxExport:
    """The loaded generator as ONNX, checked in onnxruntime against the library, with its model card."""
    require_packages()
    model = onnx_model_bytes(loaded.generator)
    diff = max_difference(model, loaded.generator)
    if not diff <= TOLERANCE:
        raise OnnxExportError(f"the exported graph differs from the library by {diff:.2g} (at most {TOLERANCE:g} is "
                              "accepted): this exporter cannot export this generator faithfully; use the .safetensors "
                              "export with this app instead")
    return OnnxExport(model, onnx_card(loaded, name, command, diff))


def onnx_card(loaded: LoadedGenerator, name: str, command: str, diff: float) -> dict[str, Any]:
    """The export card of the safetensors export plus what a runtime needs: inputs, outputs, opset, range, sampling."""
    g = loaded.generator
    card = export_card(loaded, name, command)
    if card["train_config"] is None and loaded.card:  # a shipped file keeps its config in its own card
        card["train_config"] = loaded.card.get("train_config")
    if loaded.card:
        card["source_card"] = loaded.card
    card["model"] = g.cfg.to_dict()
    card["onnx"] = {
        "file": f"{name}.onnx",
        "format": FORMAT_ONNX,
        "opset": OPSET,
        "inputs": _inputs(loaded),
        "outputs": [{"name": "images", "shape": ["N", *IMAGE_SHAPE], "dtype": "float32", "value_range": [-1, 1],
                     "meaning": "grayscale images, -1 black and 1 white: (images + 1) * 127.5 gives 8-bit pixels"}],
        "batch": "N: any number of images, one row of z (and one label) each",
        "value_range": [-1, 1],
        "how_to_sample": _how_to_sample(g),
        "checked": {"runtime": f"onnxruntime {_version('onnxruntime')}", "images": CHECK_IMAGES,
                    "max_abs_difference": diff, "tolerance": TOLERANCE},
        "exported_with": {p: _version(p) for p in ("torch", "onnx", "onnxscript")},
    }
    return card


def _inputs(loaded: LoadedGenerator) -> list[dict[str, Any]]:
    g = loaded.generator
    k = g.cfg.info_codes
    z = {"name": "z", "shape": ["N", g.latent_dim], "dtype": "float32",
         "meaning": "one standard Gaussian vector per image; the same z makes the same image as in the app"
                    + (f"; its first {k} entries also pick the InfoGAN code (their argmax, 0-{k - 1})" if k else "")}
    if not g.num_classes:
        return [z]
    trained = trained_classes(loaded) or CLASS_NAMES
    labels = {"name": "labels", "shape": ["N"], "dtype": "int64",
              "meaning": "the class of each image, an index 0-9: "
                         + ", ".join(f"{i} {c}" for i, c in enumerate(CLASS_NAMES)),
              "trained_classes": list(trained)}
    return [z, labels]


def _how_to_sample(g: Generator) -> str:
    feed = "{'z': z" + (", 'labels': labels}" if g.num_classes else "}")
    return (f"z = numpy.random.default_rng(seed).standard_normal((N, {g.latent_dim}), dtype=numpy.float32)"
            + ("; labels = numpy.array([...class indices 0-9...], dtype=numpy.int64) (N of them)" if g.num_classes
               else "")
            + f"; images = onnxruntime.InferenceSession(FILE).run(['images'], {feed})[0]"
            + "; pixels = ((images[:, 0] + 1) * 127.5).round().clip(0, 255).astype(numpy.uint8)")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
