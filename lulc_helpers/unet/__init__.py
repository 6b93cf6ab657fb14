"""The U-Net family: the network, its training, the choice of a model, and prediction (torch).

Every public name is reachable from here (`from lulc_helpers import unet`; `unet.train(...)`) and lives in one
submodule: `model`, `losses`, `patches`, `config`, `split`, `checkpoint`, `training`, `selection`, `runs`,
`predict`. Submodules load when a name is first used, so reading a `TrainConfig` (the CLI's parser) does not
load torch. The classical family (`lulc_helpers.classical`) never imports this one, nor this one it
(docs/design.md).
"""

from __future__ import annotations

import importlib

_HOMES: dict[str, tuple[str, ...]] = {
    "model": ('architecture_table', 'block_summary', 'build_model', 'conv_block', 'count_parameters', 'half_precision', 'inference_copy', 'memory_format', 'mixed_precision', 'UNet',),
    "losses": ('FocalLoss',),
    "patches": ('augment', 'jitter', 'network_input', 'Normalisation', 'PatchSampler', 'SYMMETRIES', 'turn', 'unturn',),
    "config": ('amp_enabled', 'check_config', 'config_from_dict', 'default_preset', 'default_sweep', 'PRESETS', 'resolve_config', 'TrainConfig', 'VARIANTS',),
    "split": ('dry_run', 'paper_split', 'Split', 'split_names',),
    "checkpoint": ('CHECKPOINT_FORMAT', 'contents', 'INPUT_CONVERSION', 'load_checkpoint', 'save_checkpoint',),
    "training": ('estimate_minutes', 'loss_weights', 'train', 'train_throughput', 'TrainResult', 'validate',),
    "selection": ('evaluate_on_test', 'run_dir', 'score_test_scene', 'seed_runs', 'select', 'sweep', 'validation_by_date',),
    "runs": ('check_record_file', 'PRESET_RUN', 'record', 'RECORD_COLUMNS', 'RECORDED_RUNS', 'recorded_runs',),
    "predict": ('classify', 'predict_raster', 'predict_scene', 'probabilities', 'UNetClassifier', 'window_size',),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


def __dir__() -> list[str]:
    return __all__
