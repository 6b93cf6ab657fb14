"""Presets, `lulc train --dry-run`, model selection on the training dates only, the GPU path without a GPU,
recorded runs and the deviations table."""

import json
from dataclasses import fields, replace
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch

from lulc_helpers import cli, course, data, labels, paths, rasters, runtime, unet
from lulc_helpers.unet import model as unet_model, training as unet_training
from tests import quick_runs
from tests.quick_runs import quick_run

# The paper's Section 2.3.1: training and validation dates of Strzegom (the test date 2023-07-09 is not among them).
PAPER_STRZEGOM_TRAINING = ["strzegom_20210619", "strzegom_20220619", "strzegom_20220719", "strzegom_20221012",
                           "strzegom_20230209", "strzegom_20230301"]
TINY = replace(unet.PRESETS["quick"], patches_per_epoch=4, patch_size=32, window=64, overlap=16)


def test_paper_preset_is_table_3():
    paper = unet.resolve_config("paper")
    # the paper's training-settings table: epochs 25, patch size 100, batch size 4, Adam lr 0.001, weight decay swept (0.001 the middle), gamma 2
    assert (paper.epochs, paper.patch_size, paper.batch_size, paper.lr, paper.gamma) == (25, 100, 4, 0.001, 2.0)
    assert paper.balance and paper.weight_power == 1.0 and paper.jitter == 0.0


def test_overrides_change_only_what_they_name():
    cpu = unet.PRESETS["cpu"]
    resolved = unet.resolve_config("cpu", {"epochs": 7, "val_scenes": ["x"]})
    assert resolved.epochs == 7 and resolved.val_scenes == ("x",)
    assert replace(resolved, epochs=cpu.epochs, val_scenes=cpu.val_scenes) == cpu
    with pytest.raises(ValueError, match="epoch"):
        unet.resolve_config("cpu", {"epoch": 7})
    with pytest.raises(ValueError, match="'gpu'"):
        unet.resolve_config("gpu")


@pytest.mark.parametrize("cuda, mps, device, preset", [
    (True, False, "cuda", "paper"), (False, True, "mps", "paper"), (False, False, "cpu", "cpu")])
def test_device_selection_and_default_preset(monkeypatch, capsys, cuda, mps, device, preset):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Test GPU")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert runtime.pick_device().type == device
    assert {"cuda": "CUDA (Test GPU)", "mps": "Apple MPS", "cpu": "CPU"}[device] in capsys.readouterr().out
    assert unet.default_preset() == preset
    args = cli.build_parser().parse_args(["train", "--dry-run", "--json"])
    assert args.handler(args) == 0
    assert json.loads(capsys.readouterr().out)["preset"] == preset


def test_dry_run_json_prints_every_field_and_the_scenes_without_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(unet_training, "train", lambda *a, **k: pytest.fail("--dry-run trained"))
    monkeypatch.setattr(rasters, "open_image", lambda *a, **k: pytest.fail("--dry-run read an image"))
    assert cli.main(["train", "--preset", "cpu", "--epochs", "12", "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert set(plan["config"]) == {f.name for f in fields(unet.TrainConfig)}
    assert plan["config"]["epochs"] == 12 and plan["config"]["width"] == unet.PRESETS["cpu"].width
    assert plan["train_scenes"] == PAPER_STRZEGOM_TRAINING
    assert [name.split()[0] for name in plan["val_scenes"]] == PAPER_STRZEGOM_TRAINING
    assert "strzegom_20230709" not in json.dumps(plan["train_scenes"] + plan["val_scenes"])
    assert not any(tmp_path.iterdir())


@pytest.fixture
def unreadable_test_scene(monkeypatch):
    """Every reader raises on the test scene's image, mask or polygons."""
    scene = data.test_scene()
    forbidden = [Path(p).name for p in (scene.image, scene.mask, scene.reference)]

    def guard(reader):
        def read(path, *args, **kwargs):
            if Path(path).name in forbidden:
                raise AssertionError(f"the test scene was read: {path}")
            return reader(path, *args, **kwargs)
        return read

    for module, name in ((rasters, "open_image"), (rasters, "open_class_map"), (labels, "rasterize_reference")):
        monkeypatch.setattr(module, name, guard(getattr(module, name)))


def test_split_and_selection_never_read_the_test_scene(unreadable_test_scene, tmp_path):
    split = unet.paper_split(TINY)
    assert split.train_names == PAPER_STRZEGOM_TRAINING and len(split.val) == len(split.train) == 6
    assert all(mask.shape[0] == 80 for _, mask in split.val)  # the bottom 20 % of 401 rows
    swept = unet.sweep(TINY, split, tmp_path, [0.01, 0.001], [True], progress=False)
    chosen = unet.select(swept)
    assert chosen["val_f1"] == swept["val_f1"].max()
    seeds = unet.seed_runs(replace(TINY, weight_decay=chosen["weight_decay"]), split, tmp_path, [0, 1], progress=False)
    assert seeds["val_f1"].notna().all() and "protocol" not in seeds
    with pytest.raises(AssertionError, match="test scene was read"):  # the guard works: scoring reads it
        unet.score_test_scene(seeds)


def test_select_picks_the_best_validation_score_and_refuses_without_one():
    table = pd.DataFrame({"weight_decay": [0.01, 0.001, 0.0001], "val_f1": [0.80, 0.85, 0.82]})
    assert unet.select(table)["weight_decay"] == 0.001
    with pytest.raises(ValueError, match="validation"):
        unet.select(table.assign(val_f1=np.nan))
    assert unet.select(table.iloc[:1].assign(val_f1=np.nan))["weight_decay"] == 0.01  # one setting: no choice


def _synthetic_split():
    rng = np.random.default_rng(0)
    codes = np.repeat(np.array([1, 3, 8, 10], dtype=np.uint8), 16)[None, :].repeat(64, axis=0)
    image = (rng.uniform(0.03, 0.4, size=(11, 10))[codes].transpose(2, 0, 1)).astype(np.float32)
    return unet.Split(train=[(image, codes)], val=[(image, codes)], train_names=["a"], val_names=["b"])


def test_mixed_precision_path_and_grad_scaler_in_the_checkpoint(monkeypatch, tmp_path):
    split = _synthetic_split()
    config = replace(TINY, val_fraction=0, epochs=2)

    def interrupt(history):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # a CPU run (no scaler) stopped after its first epoch
        unet.train(config, split, tmp_path / "a", device="cpu", progress=False, on_epoch=interrupt)
    assert unet.load_checkpoint(tmp_path / "a" / "last.pt")[1]["scaler"] == {}
    # What CUDA gets: float16 autocast and an enabled GradScaler, here on the CPU.
    monkeypatch.setattr(unet_training, "amp_enabled", lambda config, device: True)
    monkeypatch.setattr(unet_model, "half_precision", lambda device: torch.float16)
    monkeypatch.setattr(unet_training, "half_precision", lambda device: torch.float16)
    dtypes = []
    monkeypatch.setattr(unet_training, "build_model", _recording_dtypes(unet.build_model, dtypes))
    unet.train(config, split, tmp_path / "b", device="cpu", progress=False)
    assert torch.float16 in dtypes
    scaler = unet.load_checkpoint(tmp_path / "b" / "last.pt")[1]["scaler"]
    # GradScaler starts at 2 ** 16 and halves after a step with inf/NaN gradients
    assert set(scaler) >= {"scale", "growth_factor", "backoff_factor", "growth_interval"}
    assert np.log2(scaler["scale"]).is_integer() and scaler["scale"] <= 2.0**16
    resumed = unet.train(config, split, tmp_path / "a", device="cpu", progress=False)  # resumed with a scaler
    assert resumed.history["epoch"].tolist() == [1, 2]
    assert "scale" in unet.load_checkpoint(tmp_path / "a" / "last.pt")[1]["scaler"]


def test_a_cpu_with_amx_trains_in_bfloat16_without_loss_scaling(monkeypatch, tmp_path):
    split = _synthetic_split()
    config = replace(TINY, val_fraction=0, epochs=3, lr=0.01)
    histories, dtypes = {}, []
    monkeypatch.setattr(unet_training, "build_model", _recording_dtypes(unet.build_model, dtypes))
    for amx in (False, True):  # bfloat16 runs on any CPU, emulated where it has no AMX
        monkeypatch.setattr(runtime, "cpu_has_amx", lambda: amx)
        dtypes.clear()
        histories[amx] = unet.train(config, split, tmp_path / str(amx), device="cpu", progress=False).history
        assert set(dtypes) == {torch.bfloat16 if amx else torch.float32}
        assert unet.load_checkpoint(tmp_path / str(amx) / "last.pt")[1]["scaler"] == {}  # bfloat16 has float32's range
    # the same patches and initial weights: bfloat16's 8-bit mantissa barely moves the first epoch's loss; after it
    # the two runs part as two seeds would, and both learn
    assert histories[True]["loss"].iloc[0] == pytest.approx(histories[False]["loss"].iloc[0], rel=0.01)
    for history in histories.values():
        assert history["loss"].iloc[-1] < 0.9 * history["loss"].iloc[0]


def _recording_dtypes(build, dtypes):
    def build_and_record(config):
        model = build(config)
        model.head.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
        return model
    return build_and_record


NOTEBOOK_03 = Path(__file__).resolve().parents[1] / "notebooks" / "03_unet_training.ipynb"


def test_notebook_03_in_quick_mode_writes_no_map():
    """A one-epoch map under runs/predictions/ would stand in for a trained U-Net in notebooks 04-06."""
    notebook = nbformat.read(quick_run(NOTEBOOK_03), as_version=4)  # the suite's shared quick run
    assert any("QUICK = True" in c.source for c in notebook.cells)
    runs = quick_runs.runs_dir(NOTEBOOK_03)
    assert (runs.parent / "figures" / "03_training_curves.png").is_file(), "the kernel had the run's own folders"
    assert sorted(runs.rglob("*")) == []


def test_live_curves_redraw_every_few_epochs_and_keep_each_training():
    from lulc_helpers import training_plots

    curves = training_plots.LiveCurves(epochs=5, every=2)
    drawn = []
    curves.redraw = lambda: drawn.append({k: len(v) for k, v in curves.histories.items()})
    history = pd.DataFrame({"epoch": range(1, 6), "loss": 1.0, "val_f1": 0.5})
    for run in range(2):  # two trainings of 5 epochs, as a sweep of two settings calls it
        for epoch in range(1, 6):
            curves(history.iloc[:epoch])
    # redrawn at epochs 2, 4 and the last (5) of each training; the first training's curve is kept
    assert drawn == [{"training 1": 2}, {"training 1": 4}, {"training 1": 5},
                     {"training 1": 5, "training 2": 2}, {"training 1": 5, "training 2": 4}, {"training 1": 5, "training 2": 5}]


def test_lulc_train_record_appends_test_and_validation_scores(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path))
    record = tmp_path / "results" / "runs.csv"
    for seed in (0, 1):
        args = ["train", "--preset", "quick", "--patches-per-epoch", "4", "--seed", str(seed),
                "--record", str(record), "--record-as", "tiny"]
        assert cli.main(args) == 0
    table = unet.recorded_runs(record)
    assert list(table.columns) == unet.RECORD_COLUMNS
    assert table["seeds"].tolist() == [0, 0, 0, 1, 1, 1] and set(table["run"]) == {"tiny"}
    assert set(table["evaluated_on"]) == {"Strzegom 20230709", "training dates"}
    assert {"reference polygons", "test mask"} <= set(table["protocol"])
    assert table["OA"].between(0, 1).all() and table["macro_F1"].between(0, 1).all()
    printed = capsys.readouterr().out
    polygons = table[table["protocol"] == "reference polygons"].iloc[-1]
    assert f"{polygons['OA']:.4f}" in printed  # the recorded score is the one reported


def test_lulc_train_record_without_evaluation_records_validation_only(unreadable_test_scene, tmp_path, monkeypatch):
    monkeypatch.setenv(paths.RUNS_DIR_ENV, str(tmp_path))
    record = tmp_path / "selection.csv"
    args = ["train", "--preset", "quick", "--patches-per-epoch", "4", "--epochs", "2", "--val-every", "2",
            "--no-evaluate", "--record", str(record), "--record-as", "candidate"]
    assert cli.main(args) == 0  # the guard raises if the test scene is read
    table = unet.recorded_runs(record)
    assert table["evaluated_on"].tolist() == ["training dates"] and table["run"].tolist() == ["candidate"]
    assert table["protocol"].iloc[0].startswith("validation (bottom 20% of rows")
    assert table["setting_chosen_by"].iloc[0].endswith("epoch 2 kept on validation")


def test_selection_evidence_compares_each_change_with_the_preset_of_the_same_seed():
    run = unet.PRESET_RUN
    rows = [  # (run, seeds, epochs, evaluated_on, macro F1)
        (run, "0", 40, "training dates", 0.85), (run, "1", 40, "training dates", 0.87),
        (run, "1", 40, "Strzegom 20230709", 0.99),  # a test score: never evidence for a choice
        (f"{run}; jitter 0", "1", 40, "training dates", 0.88), (f"{run}; jitter 0", "0", 40, "training dates", 0.80),
        (run, "1", 160, "training dates", 0.90), (f"{run}; epochs 80", "1", 80, "training dates", 0.86),
        ("another run", "1", 40, "training dates", 0.95),
    ]
    recorded = pd.DataFrame(rows, columns=["run", "seeds", "epochs", "evaluated_on", "macro_F1"]).assign(OA=0.9)
    table = course.selection_evidence(recorded).set_index(["change", "seed", "epochs"])
    gain = table["macro F1 minus the preset's"]
    assert len(table) == 6 and gain[("jitter 0", "1", 40)] == pytest.approx(0.01)
    assert gain[("jitter 0", "0", 40)] == pytest.approx(-0.05)
    assert gain[("epochs 80", "1", 80)] == pytest.approx(-0.04)  # against the preset's 160 epochs
    assert gain.loc["none"].isna().all() and table.loc[("none", "1", 40), "validation macro F1"] == 0.87
    assert len(course.selection_evidence(recorded, epochs=40)) == 4
