"""`inspect`: what D sees, the spectra of generated against real images and G's layers, written as PNGs."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import TYPE_CHECKING

from gan_core.cli.command import Command

if TYPE_CHECKING:  # imported when the command runs: `--help` stays quick
    import numpy as np
    from PIL import Image

GRID_MAX = 64


def _inspect_args(p: argparse.ArgumentParser) -> None:
    from gan_core.inspect import SPECTRUM_N

    p.add_argument("source", help="run folder, checkpoint or generator .safetensors file (D's views need a run folder "
                                  "or checkpoint: a generator file holds no discriminator)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder the PNGs are written to (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents and of the real images picked")
    p.add_argument("--n", type=int, default=SPECTRUM_N, help="generated and real images in the spectra")
    p.add_argument("--grid", type=int, default=16, help=f"images in each saliency grid (1–{GRID_MAX})")
    p.add_argument("--class", dest="cls", default=None,
                   help="class of the latent whose layers are drawn (a conditional generator; default the first)")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (default: the usual places)")


def _out_dir(text: str) -> Path:
    """The output folder, created; a ValueError saying what is wrong when it cannot be."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder (it is created when missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: the folder cannot be created ({exc.strerror or exc}): choose another") from None
    return out


def _write(path: Path, data: bytes, what: str) -> None:
    path.write_bytes(data)
    print(f"wrote {path}: {what}")


def _png(picture: Image.Image | np.ndarray) -> bytes:
    from PIL import Image

    img = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def cmd_inspect(args: argparse.Namespace) -> int:
    from gan_core.data import class_index
    from gan_core.discriminate import real_test_set
    from gan_core.images import png_bytes
    from gan_core.inspect import (
        TOP_BAND,
        compare_spectra,
        file_stem,
        fit_scale,
        layer_maps,
        layer_picture,
        load_inspectable,
        overlay_grid,
        spectrum_png_image,
        what_d_sees,
    )

    if not 1 <= args.grid <= GRID_MAX:
        raise ValueError(f"--grid must be between 1 and {GRID_MAX} (got {args.grid})")
    if args.n < 1:
        raise ValueError(f"--n must be at least 1 (got {args.n})")
    loaded = load_inspectable(args.source)
    if args.cls is not None:  # checked before anything is written
        if not loaded.generator.num_classes:
            raise ValueError("this generator is unconditional: it cannot be asked for a class (--class)")
        class_index(args.cls)
    out = _out_dir(args.out)
    real, labels, _ = real_test_set(loaded, data_dir=args.data_dir)
    if loaded.discriminator is None:
        print(f"{loaded.path} holds a generator only: D's views (d_saliency_*.png) need a run folder or one of its "
              "checkpoints, which hold the discriminator. Writing the spectra and the layers.")
    else:
        sees = what_d_sees(loaded, real, labels, n=args.grid, seed=args.seed)
        nrow = min(8, args.grid)
        for name, view in (("generated", sees.generated), ("real", sees.real)):
            picture = overlay_grid(view, vmax=sees.vmax, nrow=nrow)
            _write(out / f"d_saliency_{name}.png", _png(picture),
                   f"D's saliency on {args.grid} {name} images, mean P(real) {float(view.scores.mean()):.2f}")
    comparison = compare_spectra(loaded, real, labels, n=args.n, seed=args.seed)
    _write(out / "spectrum.png", _png(spectrum_png_image(comparison)),
           f"mean power spectra of {args.n:,} generated and real images; generated/real power in the top band "
           f"(≥ {TOP_BAND:g} × Nyquist) {comparison.band_ratio():.2f}")
    layers = layer_maps(loaded, seed=args.seed, label=args.cls)
    for layer in layers:
        picture = layer_picture(layer)
        s = layer.summary()
        _write(out / f"{file_stem(layer)}.png", png_bytes(picture, scale=fit_scale(picture)),
               f"{layer.name}, output {s['output']}, zero share {layer.zero_share:.1%}, "
               f"{layer.dead_channels} dead and {layer.constant_channels} constant channels")
    return 0


COMMANDS = (
    Command("inspect", "PNGs of what D sees (saliency), the spectra of generated vs real images and G's layers",
            _inspect_args, cmd_inspect),
)
