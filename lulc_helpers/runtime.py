"""What every notebook sets up first: seeds, device, where figures go, whether this is Colab."""

from __future__ import annotations

import os
import random
import sys

import numpy as np

from . import allocator
from .errors import OptionError, Unavailable
from .outputs import atomic_output
from .paths import figures_dir, shown


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and PyTorch (if installed) so that CPU runs repeat exactly.

    Parameters
    ----------
    seed : int, default 42
        The seed.
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def apply_speed_settings() -> None:
    """The settings that make torch fast on a CPU, applied by the entry points that train or predict (`unet.train`,
    `unet.predict_scene`, a streaming classifier's first block on each process, the CLI) and by each notebook's
    setup cell, never on import.

    Subnormal floats (below 1.2e-38) are computed as zero on x86 CPUs: weight decay 0.01 (the paper's sweep) and
    long trainings leave some weights subnormal, and the CPU then trains several times slower
    (`benchmarks/unet.py --denormal`); values that small change no prediction. torch's worker threads take the
    setting from the thread that starts them, so it must come before torch's first parallel operation of the
    process: a 2-thread training step took 300 ms instead of 130 ms when it came after. A no-op where the CPU
    lacks the feature.

    Freed buffers of up to `allocator.LARGE_BUFFER_BYTES` stay in the process for the next window or step
    (`allocator.keep_large_buffers`)."""
    import torch

    torch.set_flush_denormal(True)
    allocator.keep_large_buffers()


def cpu_has_amx() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX), where mixed precision pays off.

    There, in bfloat16 autocast, a training step of the `cpu` preset took 79 ms instead of 121 ms and a forward pass
    of prediction over four 256-pixel windows 48 ms instead of 167 ms, on two threads (`benchmarks/unet.py
    --layout`). CPUs without AMX keep float32: bfloat16 on vector instructions alone was not measured.

    Returns
    -------
    bool
        What torch's CPU feature check says; False for a torch that has none.
    """
    import torch

    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def pick_device(verbose: bool = True):
    """The best device here: CUDA if present, else Apple MPS, else CPU.

    Parameters
    ----------
    verbose : bool, default True
        Print the device, so that a learner sees where training runs.

    Returns
    -------
    torch.device
        The device.
    """
    import torch

    if torch.cuda.is_available():
        device = torch.device("cuda")
        label = f"CUDA ({torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device, label = torch.device("mps"), "Apple MPS"
    else:
        device, label = torch.device("cpu"), f"CPU ({os.cpu_count()} cores{', AMX: bfloat16 mixed precision' if cpu_has_amx() else ''})"
    if verbose:
        print(f"Device: {label}")
    return device


def in_colab() -> bool:
    """Whether this runs on Google Colab.

    Returns
    -------
    bool
        True inside a Colab runtime.
    """
    return "google.colab" in sys.modules


def save_figure(fig, name: str) -> None:
    """Save a matplotlib figure as PNG under figures/ (`paths.figures_dir`), atomically, and print where.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    name : str
        The file name, after its notebook (`01_composites`); ".png" is added if missing.

    Raises
    ------
    OutputError
        If the write fails.
    """
    path = figures_dir() / (name if name.endswith(".png") else f"{name}.png")
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    print(f"saved {shown(path)}")


def device(name: str | None = None, verbose: bool = True):
    """The torch device to run on, checked to work here.

    Parameters
    ----------
    name : str, optional
        cpu, cuda, cuda:N or mps; None picks one as `pick_device` does.
    verbose : bool, default True
        Print the device picked when `name` is None.

    Returns
    -------
    torch.device
        The device.

    Raises
    ------
    OptionError
        For a name torch does not know.
    Unavailable
        For a device this machine lacks.
    """
    import torch

    if name is None:
        return pick_device(verbose)
    try:
        chosen = torch.device(name)
    except RuntimeError:
        raise OptionError(f"device {name}: not a device name (cpu, cuda, cuda:N or mps)") from None
    try:
        torch.zeros(1, device=chosen)
    except (RuntimeError, AssertionError) as err:  # torch without CUDA raises AssertionError
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0]
        raise Unavailable(f"device {name}: not available on this machine ({reason}); use --device cpu") from None
    return chosen

