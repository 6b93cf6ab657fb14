"""U-Net throughput and where a training's time goes, on CPU and (if present) GPU.

    python benchmarks/unet.py                 # patches/s and Mpx/s: paper's network (w64 d4) and the cpu preset
    python benchmarks/unet.py --steps 20      # steadier numbers on a GPU
    python benchmarks/unet.py --no-paper --phases 3   # also: 3 real epochs of the cpu preset, timed by phase, and
                                              # notebook 03's full mode before and after, estimated from them
    python benchmarks/unet.py --no-paper --denormal runs/x/last.pt   # also: training steps of that checkpoint with
                                              # subnormal numbers computed as such and flushed to zero
    python benchmarks/unet.py --no-paper --layout  # also: the cpu preset's training step and forward pass on
                                              # the CPU in PyTorch's default layout and as training and
                                              # prediction run them (channels last; BatchNorm folded and ReLU fused to predict;
                                              # bfloat16 autocast on a CPU with AMX)

Rows: configuration x device, in mixed precision where training uses it (float16 on CUDA, bfloat16 on a CPU with AMX).
Random inputs for throughput: it does not depend on the pixel values. Timings are only as good as the machine is
idle: run it alone, and say how many threads and what else was running.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from lulc_helpers import data, evaluation, runtime, unet


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def inference_throughput(config: unet.TrainConfig, device: torch.device, size: int, repeats: int) -> float:
    """Megapixels per second of whole-scene prediction with overlapping windows (one pass, no TTA)."""
    model = unet.build_model(config).to(device).eval()
    image = np.random.default_rng(0).normal(size=(10, size, size)).astype(np.float32)
    unet.probabilities(model, image, config, device, batch_size=config.batch_size)
    _sync(device)
    began = time.perf_counter()
    for _ in range(repeats):
        unet.probabilities(model, image, config, device, batch_size=config.batch_size)
    _sync(device)
    return repeats * size * size / 1e6 / (time.perf_counter() - began)


def throughput_table(steps: int, scene: int, large_batch: int, paper_rows: bool = True) -> pd.DataFrame:
    paper, cpu = unet.PRESETS["paper"], unet.PRESETS["cpu"]
    configs = {
        "paper (w64 d4), batch 4": paper,
        f"paper (w64 d4), batch {large_batch}": replace(paper, batch_size=large_batch),
    } if paper_rows else {}
    configs |= {
        "cpu preset (w16 d3), batch 4": cpu,
        f"cpu preset (w16 d3), batch {large_batch}": replace(cpu, batch_size=large_batch),
    }
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
        for label, config in configs.items():
            torch.manual_seed(0)
            rows.append({
                "device": name + (", AMP" if unet.amp_enabled(config, device) else ""),
                "configuration": label,
                "train patches/s": unet.train_throughput(config, device, steps),
                "inference Mpx/s": inference_throughput(config, device, scene, repeats=1 if device.type == "cpu" else 5),
            })
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def phases(epochs: int) -> pd.DataFrame:
    """Seconds per phase of a real `cpu`-preset training (`epochs` epochs) and of scoring the test scene."""
    config = replace(unet.PRESETS["cpu"], epochs=epochs)
    began = time.perf_counter()
    split = unet.paper_split(config)
    timings = {"read and convert the training scenes (once)": time.perf_counter() - began}
    with tempfile.TemporaryDirectory() as out:
        began = time.perf_counter()
        result = unet.train(config, split, out, device="cpu", progress=False)
        total = time.perf_counter() - began
        history = result.history
        timings["per epoch: patches, forward, backward, Adam"] = history["train_s"].mean()
        validated = history["val_f1"].notna()
        timings["one validation (one pass over the stripes)"] = history.loc[validated, "val_s"].mean()
        timings["per epoch: setup and checkpoints"] = (total - history["train_s"].sum() - history["val_s"].sum()) / epochs
        image, _ = evaluation.reference_protocols()
        for tta in (False, True):
            began = time.perf_counter()
            unet.predict_scene(result.best_path, image, "cpu", tta=tta)
            timings[f"test scene prediction, {'8 passes (TTA)' if tta else 'one pass'}"] = time.perf_counter() - began
    return pd.Series(timings, name="seconds").to_frame()


def full_mode_minutes(epoch_s: float, validation_s: float) -> pd.DataFrame:
    """Notebook 03's full mode on this machine, from the measured seconds per epoch (training, setup and
    checkpoints) and per validation: trainings x epochs, and validations."""
    cpu = unet.PRESETS["cpu"]
    plans = {  # (epochs trained, validations)
        "before: 160 epochs, seeds [0, 1], validation every epoch": (2 * 160, 2 * 160),
        "stripe, 160 epochs, seed [0], validation every epoch": (160, 160),
        f"after: {cpu.epochs} epochs, seed [0], validation every {cpu.val_every}th epoch": (cpu.epochs, -(-cpu.epochs // cpu.val_every)),
    }
    return pd.DataFrame({
        "epochs trained": {k: e for k, (e, _) in plans.items()},
        "validations": {k: v for k, (_, v) in plans.items()},
        "training minutes": {k: (e * epoch_s + v * validation_s) / 60 for k, (e, v) in plans.items()},
    })


def denormal_cost(checkpoint: str, steps: int = 6) -> pd.DataFrame:
    """Milliseconds per training step (batch 4, random patches) of a checkpoint's network on the CPU, with subnormal
    numbers computed as such and flushed to zero (`runtime.flush_denormals`); weight decay 0.01 leaves some weights
    subnormal."""
    from lulc_helpers.unet.losses import FocalLoss

    model, saved = unet.load_checkpoint(checkpoint, device="cpu")
    model.train()
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    subnormal = int(((weights != 0) & (weights.abs() < torch.finfo(torch.float32).tiny)).sum())
    x = torch.randn(4, 10, 100, 100, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (4, 100, 100), generator=torch.Generator().manual_seed(0))
    loss_fn, rows = FocalLoss(2.0, None), {}
    for flush in (False, True, False, True):
        torch.set_flush_denormal(flush)
        for step in range(steps + 2):
            if step == 2:  # after two warm-up steps
                began = time.perf_counter()
            model.zero_grad()
            loss_fn(model(x), y).backward()
        rows.setdefault("flushed to zero" if flush else "computed as subnormals", []).append(
            (time.perf_counter() - began) / steps * 1000)
    print(f"{checkpoint}: weight decay {saved['config']['weight_decay']:g}, {subnormal} subnormal weights of {weights.numel()}")
    return pd.DataFrame({"ms per step (two repeats)": {k: " / ".join(f"{v:.0f}" for v in vs) for k, vs in rows.items()}})

def layout_cost(steps: int = 20, repeats: int = 3) -> pd.DataFrame:
    """Milliseconds per training step (batch 4 of 100 x 100) and per forward pass (4 windows of 256 x 256) of the
    cpu preset on the CPU: PyTorch's default layout against `unet.memory_format` (training) and
    `unet.inference_copy` (prediction), each also in bfloat16 autocast (`unet.mixed_precision`, what a CPU with AMX
    runs), alternating, `repeats` times; the maximum difference of the logits too."""
    from lulc_helpers.unet.losses import FocalLoss
    from lulc_helpers.unet.training import _step

    config, cpu = unet.PRESETS["cpu"], torch.device("cpu")
    generator = torch.Generator().manual_seed(0)
    patches, codes = torch.randn(4, 10, 100, 100, generator=generator), torch.randint(0, 11, (4, 100, 100), generator=generator)
    windows = torch.randn(4, 10, 256, 256, generator=generator)
    trained = unet.build_model(config).eval()
    for layer in trained.modules():  # statistics as training leaves them, so that folding has something to fold
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5, generator=generator)
            layer.running_var.uniform_(0.5, 2.0, generator=generator)

    def per_call_ms(call) -> float:
        for _ in range(2):
            call()
        began = time.perf_counter()
        for _ in range(steps):
            call()
        return (time.perf_counter() - began) / steps * 1000

    def training_step(layout, bfloat16=False):
        model = unet.build_model(config).to(memory_format=layout).train()
        optimizer, scaler = torch.optim.Adam(model.parameters(), lr=config.lr), torch.amp.GradScaler("cpu", enabled=False)
        x = patches.contiguous(memory_format=layout)
        return lambda: _step(model, FocalLoss(config.gamma), optimizer, scaler, x, codes, bfloat16)

    def forward(model, x, bfloat16=False):
        def call():
            with unet.mixed_precision(bfloat16, cpu):
                return model(x).float()
        return call

    fast, fast_input = unet.inference_copy(trained, cpu), windows.contiguous(memory_format=unet.memory_format(cpu))
    runs = {
        "training step, default layout": training_step(torch.contiguous_format),
        "training step, channels last": training_step(unet.memory_format(cpu)),
        "training step, channels last, bfloat16": training_step(unet.memory_format(cpu), bfloat16=True),
        "forward pass, default layout": forward(trained, windows),
        "forward pass, as predicted (folded, fused ReLU, channels last)": forward(fast, fast_input),
        "forward pass, as predicted, bfloat16": forward(fast, fast_input, bfloat16=True),
    }
    rows: dict[str, list[float]] = {}
    with torch.no_grad():
        reference = trained(windows)
        difference = float((fast(fast_input) - reference).abs().max())
        in_bfloat16 = forward(fast, fast_input, bfloat16=True)()
        rounded = float((in_bfloat16 - reference).abs().max())
        flipped = float((in_bfloat16.argmax(1) != reference.argmax(1)).float().mean())
    for _ in range(repeats):
        for name, call in runs.items():
            with torch.no_grad() if name.startswith("forward") else torch.enable_grad():
                rows.setdefault(name, []).append(per_call_ms(call))
    print(f"{torch.get_num_threads()} thread(s), AMX: {runtime.cpu_has_amx()}; largest logit difference against the "
          f"default: folded {difference:.1e}, folded in bfloat16 {rounded:.1e} (untrained weights; {flipped:.2%} of "
          "pixels change class)")
    return pd.DataFrame({"ms per call (repeats)": {k: " / ".join(f"{v:.0f}" for v in vs) for k, vs in rows.items()},
                         "median ms": {k: float(np.median(vs)) for k, vs in rows.items()}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per row")
    parser.add_argument("--scene", type=int, default=401, help="scene side in pixels for inference (Strzegom: 401)")
    parser.add_argument("--large-batch", type=int, default=32)
    parser.add_argument("--phases", type=int, default=0, metavar="EPOCHS", help="also time EPOCHS real epochs by phase")
    parser.add_argument("--no-paper", action="store_true", help="skip the paper-size rows (slow on a CPU)")
    parser.add_argument("--denormal", metavar="CHECKPOINT", help="also time training steps of CHECKPOINT with and without flushing subnormals")
    parser.add_argument("--layout", action="store_true", help="also time the cpu preset in the default layout and as run here")
    args = parser.parse_args()
    print(throughput_table(args.steps, args.scene, args.large_batch, not args.no_paper).round(2).to_string(index=False))
    if args.layout:
        print(layout_cost().round(1).to_string())
    if args.denormal:
        print(denormal_cost(args.denormal).to_string())
    if args.phases:
        data.ensure_data(verbose=False)
        table = phases(args.phases)
        print(table.round(2).to_string())
        per_epoch = table["seconds"].filter(like="per epoch").sum()
        print(full_mode_minutes(per_epoch, table.loc["one validation (one pass over the stripes)", "seconds"]).round(1).to_string())


if __name__ == "__main__":
    main()
