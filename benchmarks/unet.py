"""U-Net throughput: training patches/s and whole-scene inference megapixels/s, on CPU and (if present) GPU.

    python benchmarks/unet.py                 # paper's network (width 64, depth 4) and the CPU preset
    python benchmarks/unet.py --steps 20      # steadier numbers on a GPU

Rows: configuration x device; GPU rows use mixed precision (float16 autocast), as training does on CUDA.
Random inputs: throughput does not depend on the pixel values.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from lulc_helpers import inference, training


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def inference_throughput(config: training.TrainConfig, device: torch.device, size: int, repeats: int) -> float:
    """Megapixels per second of whole-scene prediction with overlapping windows."""
    model = training.build_model(config).to(device).eval()
    image = np.random.default_rng(0).normal(size=(10, size, size)).astype(np.float32)
    inference.probabilities(model, image, config, device, batch_size=config.batch_size)
    _sync(device)
    began = time.perf_counter()
    for _ in range(repeats):
        inference.probabilities(model, image, config, device, batch_size=config.batch_size)
    _sync(device)
    return repeats * size * size / 1e6 / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per row")
    parser.add_argument("--scene", type=int, default=401, help="scene side in pixels for inference (Strzegom: 401)")
    parser.add_argument("--large-batch", type=int, default=32)
    args = parser.parse_args()
    paper, cpu = training.PRESETS["paper"], training.PRESETS["cpu"]
    configs = {
        "paper (w64 d4), batch 4": paper,
        f"paper (w64 d4), batch {args.large_batch}": replace(paper, batch_size=args.large_batch),
        "cpu preset (w16 d3), batch 4": cpu,
        f"cpu preset (w16 d3), batch {args.large_batch}": replace(cpu, batch_size=args.large_batch),
    }
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
        for label, config in configs.items():
            torch.manual_seed(0)
            rows.append({
                "device": name + (", AMP" if device.type == "cuda" else ""),
                "configuration": label,
                "train patches/s": training.train_throughput(config, device, args.steps),
                "inference Mpx/s": inference_throughput(config, device, args.scene, repeats=1 if device.type == "cpu" else 5),
            })
            print(rows[-1], flush=True)
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
