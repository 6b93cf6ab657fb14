import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
import xarray as xr
from rasterio.transform import from_origin

from lulc_helpers import cli, errors, scheme, unet
from lulc_helpers.unet import predict as unet_predict, selection as unet_selection, training as unet_training
from lulc_helpers.unet.patches import Normalisation

CONFIG = replace(
    unet.PRESETS["quick"], epochs=2, width=4, depth=2, patch_size=32, patches_per_epoch=16,
    lr=0.01, window=64, overlap=16, val_scenes=(),
)
STRIPES = (1, 3, 8, 10)  # class codes of four vertical stripes


def synthetic_scene(seed: int, size: int = 64):
    """Four vertical stripes with distinct spectra plus noise; every other row labelled."""
    codes = np.array(STRIPES, dtype=np.uint8)[np.arange(size) * len(STRIPES) // size][None, :].repeat(size, axis=0)
    spectra = np.random.default_rng(0).uniform(300, 4000, size=(max(STRIPES) + 1, 10))  # one spectrum per class
    noise = np.random.default_rng(seed).normal(0, 150, size=(10, size, size))
    image = spectra[codes].transpose(2, 0, 1) + noise
    mask = codes.copy()
    mask[1::2] = 0
    return np.clip(image, 1, None).astype(np.uint16), mask


def as_reflectance(image):
    """What `paper_split` hands to training: reflectance, here of an image without the L2A offset."""
    return image.astype(np.float32) / 10000


@pytest.fixture(scope="module")
def split():
    scenes = [(as_reflectance(image), mask) for image, mask in (synthetic_scene(seed=0), synthetic_scene(seed=0))]
    return unet.Split(train=scenes[:1], val=scenes[1:], train_names=["a"], val_names=["b"])


@pytest.fixture(scope="module")
def trained(split, tmp_path_factory):
    return unet.train(CONFIG, split, tmp_path_factory.mktemp("run"), device="cpu", progress=False)


def test_two_epochs_lower_the_loss(trained):
    losses = trained.history["loss"].tolist()
    assert len(losses) == 2 and losses[1] < losses[0]
    assert {"val_oa", "val_f1", "lr"} <= set(trained.history.columns)


def test_checkpoint_holds_weights_config_normalisation_and_scheme(trained, split):
    model, saved = unet.load_checkpoint(trained.last_path)
    assert unet.config_from_dict(saved["config"]) == CONFIG
    assert Normalisation.from_dict(saved["normalisation"]) == Normalisation.fit([split.train[0][0]])
    assert [row[0] for row in saved["scheme"]] == list(scheme.CLASS_IDS)
    for name, tensor in trained.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor.cpu())


def test_a_checkpoint_survives_a_palette_change_but_not_a_renamed_class(trained, tmp_path):
    checkpoint = torch.load(trained.last_path, weights_only=False)
    checkpoint["scheme"] = [[code, name, "#000000"] for code, name, _ in checkpoint["scheme"]]
    torch.save(checkpoint, tmp_path / "old_colours.pt")
    unet.load_checkpoint(tmp_path / "old_colours.pt")
    checkpoint["scheme"][0][1] = "Broadleaf forest"
    torch.save(checkpoint, tmp_path / "renamed.pt")
    with pytest.raises(errors.DataError, match="another class scheme"):
        unet.load_checkpoint(tmp_path / "renamed.pt")


def test_prediction_reuses_the_stored_normalisation(trained, split):
    values = synthetic_scene(seed=0)[0] + 500  # a brighter scene: its own statistics would differ
    saved = unet.load_checkpoint(trained.last_path)[1]
    stored = Normalisation.from_dict(saved["normalisation"])
    expected = unet.classify(trained.model, stored.apply(as_reflectance(values)), CONFIG, tta=True)
    predicted = unet.predict_scene(trained.last_path, _as_dataarray(values), offset=0)
    np.testing.assert_array_equal(predicted.values, expected)
    assert "reflectance" in saved["input"]


def test_resume_continues_from_the_saved_epoch(split, tmp_path, monkeypatch, trained):
    calls = {"n": 0}
    validate = unet.validate

    def interrupt_in_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return validate(*args, **kwargs)

    monkeypatch.setattr(unet_training, "validate", interrupt_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        unet.train(CONFIG, split, tmp_path, device="cpu", progress=False)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1
    monkeypatch.setattr(unet_training, "validate", validate)
    resumed = unet.train(CONFIG, split, tmp_path, device="cpu", progress=False)
    assert resumed.history["epoch"].tolist() == [1, 2]
    # the same patches, the same optimiser state: identical to the uninterrupted run
    np.testing.assert_allclose(resumed.history["loss"], trained.history["loss"], rtol=1e-5)
    for name, tensor in trained.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], tensor, rtol=1e-5, atol=1e-6)


def test_resume_refuses_another_configuration(trained, split, tmp_path):
    shutil.copy(trained.last_path, tmp_path / "last.pt")
    with pytest.raises(ValueError, match="another configuration"):
        unet.train(replace(CONFIG, gamma=0.0), split, tmp_path, device="cpu", progress=False)


def _as_dataarray(values, crs="EPSG:32633"):
    bands, height, width = values.shape
    image = xr.DataArray(
        values, dims=("band", "y", "x"),
        coords={"band": np.arange(1, bands + 1), "y": 5_650_005.0 - 10 * np.arange(height), "x": 600_005.0 + 10 * np.arange(width)},
    )
    return image.rio.write_crs(crs)


def _write_tif(path, values):
    transform = from_origin(600_000, 5_650_000, 10, 10)
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[1], width=values.shape[2], count=values.shape[0],
                       dtype=values.dtype, crs="EPSG:32633", transform=transform) as dst:
        dst.write(values)
    return transform


def test_lulc_predict_writes_a_coloured_geotiff(trained, tmp_path, capsys):
    image, _ = synthetic_scene(seed=3, size=70)
    image[:, :3, :] = 0  # nodata rows
    transform = _write_tif(tmp_path / "in.tif", image)
    args = ["predict", str(trained.best_path), str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--device", "cpu", "--offset", "0"]
    assert cli.main(args) == 0
    assert "out.tif" in capsys.readouterr().out
    with rasterio.open(tmp_path / "out.tif") as out:
        assert out.crs.to_epsg() == 32633 and out.transform == transform
        assert out.dtypes[0] == "uint8" and out.nodata == 0 and (out.height, out.width) == (70, 70)
        colours = out.colormap(1)
        classes = out.read(1)
    assert colours[10][:3] == (0x7B, 0x46, 0x7E)  # quarries, purple in the scheme's table
    assert (classes[:3] == 0).all() and set(np.unique(classes[3:])) <= set(scheme.CLASS_IDS)


@pytest.mark.parametrize(
    "values, message",
    [(np.ones((4, 20, 20), dtype=np.uint16), "4 bands"), (np.ones((10, 20, 20), dtype=np.float32), "pixel type float32")],
)
def test_lulc_predict_rejects_wrong_images(trained, tmp_path, capsys, values, message):
    _write_tif(tmp_path / "bad.tif", values)
    assert cli.main(["predict", str(trained.best_path), str(tmp_path / "bad.tif"), str(tmp_path / "out.tif")]) == 2
    err = capsys.readouterr().err
    assert message in err and "bad.tif" in err
    assert not (tmp_path / "out.tif").exists()


def test_lulc_predict_removes_the_l2a_offset(trained, tmp_path, capsys):
    """The same scene stored with the +1000 offset (2022 on) and without it (2021) gets the same map."""
    image, _ = synthetic_scene(seed=4)
    _write_tif(tmp_path / "s2_20210619.tif", image)
    _write_tif(tmp_path / "s2_20230709.tif", image + 1000)
    _write_tif(tmp_path / "undated.tif", image + 1000)
    runs = {
        "before": ["s2_20210619.tif"],
        "after": ["s2_20230709.tif"],
        "given": ["undated.tif", "--offset", "1000"],
    }
    maps = {}
    for name, (source, *extra) in runs.items():
        out = tmp_path / f"{name}.tif"
        assert cli.main(["predict", str(trained.best_path), str(tmp_path / source), str(out), "--device", "cpu", *extra]) == 0
        with rasterio.open(out) as dst:
            maps[name] = dst.read(1)
    np.testing.assert_array_equal(maps["after"], maps["before"])
    np.testing.assert_array_equal(maps["given"], maps["before"])
    # without a date and without --offset the offset is unknown: a clear error that names the option
    assert cli.main(["predict", str(trained.best_path), str(tmp_path / "undated.tif"), str(tmp_path / "x.tif")]) == 2
    err = capsys.readouterr().err
    assert "undated.tif" in err and "--offset" in err and not (tmp_path / "x.tif").exists()


def test_lulc_predict_missing_checkpoint(tmp_path, capsys):
    values, _ = synthetic_scene(seed=1, size=20)
    _write_tif(tmp_path / "in.tif", values)
    assert cli.main(["predict", str(tmp_path / "none.pt"), str(tmp_path / "in.tif"), str(tmp_path / "out.tif"), "--offset", "0"]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_lulc_train_writes_a_checkpoint_under_the_runs_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LULC_RUNS_DIR", str(tmp_path))
    out = tmp_path / "unet_quick_seed0"  # the default --out, under $LULC_RUNS_DIR
    args = ["train", "--preset", "quick", "--patches-per-epoch", "4", "--no-evaluate"]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert "Images not present" in text and "kolbuszowa" in text
    _, saved = unet.load_checkpoint(out / "best.pt")
    assert saved["config"]["patches_per_epoch"] == 4 and saved["epoch"] == 1
    assert "strzegom_20230709" not in saved["train_scenes"] + saved["val_scenes"]


def test_loss_weights_soften_inverse_frequency():
    mask = np.array([1] * 90 + [7] * 10 + [0] * 50, dtype=np.uint8)  # N = 100 labelled, K = 2 classes
    full = unet.loss_weights(replace(CONFIG, balance=True), [mask])
    np.testing.assert_allclose(full[[1, 7]], [100 / (2 * 90), 100 / (2 * 10)])  # 0.556 and 5
    softened = unet.loss_weights(replace(CONFIG, balance=True, weight_power=0.5, weight_cap=2.0), [mask])
    np.testing.assert_allclose(softened[[1, 7]], [(100 / 180) ** 0.5, 2.0])  # sqrt(5) = 2.24 capped at 2
    assert softened[0] == 0 and softened[3] == 0  # unlabelled and absent classes
    assert unet.loss_weights(replace(CONFIG, balance=False), [mask]) is None


def test_test_time_augmentation_makes_the_map_turn_with_the_image():
    # The mean over the 8 symmetries of the square is itself symmetric: turning or flipping the image turns or
    # flips the probabilities. One pass of an untrained network is not, which shows the check can fail.
    torch.manual_seed(0)
    model = unet.build_model(CONFIG).eval()
    image = np.random.default_rng(0).normal(size=(10, 32, 32)).astype(np.float32)
    turned = np.ascontiguousarray(np.rot90(image, 1, axes=(1, 2))[..., ::-1])

    def back(probs):
        return np.rot90(probs[..., ::-1], -1, axes=(1, 2))

    with_tta = unet.probabilities(model, image, CONFIG, tta=True)
    np.testing.assert_allclose(back(unet.probabilities(model, turned, CONFIG, tta=True)), with_tta, atol=1e-5)
    np.testing.assert_allclose(with_tta.sum(axis=0), 1, atol=1e-5)
    one_pass = back(unet.probabilities(model, turned, CONFIG)) - unet.probabilities(model, image, CONFIG)
    assert np.abs(one_pass).max() > 1e-3


def test_lulc_predict_averages_the_flips_unless_no_tta(trained, tmp_path, monkeypatch):
    image, _ = synthetic_scene(seed=4)
    _write_tif(tmp_path / "in.tif", image)
    passes = []
    one_pass = unet_predict._window_probabilities
    monkeypatch.setattr(unet_predict, "_window_probabilities", lambda *a, **k: passes.append(1) or one_pass(*a, **k))
    stored = Normalisation.from_dict(unet.load_checkpoint(trained.best_path)[1]["normalisation"])
    normalised = stored.apply(as_reflectance(image))
    for extra, tta, count in (([], True, 8), (["--no-tta"], False, 1)):
        out = tmp_path / f"out_{tta}.tif"
        passes.clear()
        assert cli.main(["predict", str(trained.best_path), str(tmp_path / "in.tif"), str(out), "--offset", "0", *extra]) == 0
        assert len(passes) == count
        with rasterio.open(out) as written:
            np.testing.assert_array_equal(written.read(1), unet.classify(trained.model, normalised, CONFIG, tta=tta))


def test_seed_runs_reuse_the_finished_sweep_run_of_the_same_seed(split, tmp_path, monkeypatch):
    swept = unet.sweep(CONFIG, split, tmp_path, [CONFIG.weight_decay], [CONFIG.balance], progress=False)
    written = Path(swept["checkpoint"].iloc[0]).read_bytes()
    monkeypatch.setattr(unet_training, "_step", lambda *args: pytest.fail("a finished run was trained again"))
    seeds = unet.seed_runs(CONFIG, split, tmp_path, [CONFIG.seed], progress=False)
    assert seeds["checkpoint"].tolist() == swept["checkpoint"].tolist()
    assert Path(seeds["checkpoint"].iloc[0]).read_bytes() == written
    scores = unet.score_test_scene(seeds)  # the test scene, scored once at the end
    assert scores["checkpoint"].tolist() == swept["checkpoint"].tolist() * 2  # one row per reference protocol
    assert set(scores["protocol"]) == {"test mask", "reference polygons"}
    with pytest.raises(pytest.fail.Exception, match="trained again"):
        unet.seed_runs(CONFIG, split, tmp_path, [CONFIG.seed + 1], progress=False)


def test_validation_every_nth_epoch_keeps_the_best_validated_epoch(split, tmp_path):
    result = unet.train(replace(CONFIG, epochs=5, val_every=2), split, tmp_path, device="cpu", progress=False)
    validated = result.history.dropna(subset=["val_f1"])
    assert validated["epoch"].tolist() == [2, 4, 5]  # every 2nd epoch and the last
    _, kept = unet.load_checkpoint(result.best_path)
    best = validated.sort_values(["val_f1", "epoch"], ascending=[False, True]).iloc[0]
    assert kept["epoch"] == best["epoch"]
    assert unet_selection._best_epoch(result)["best_epoch"] == best["epoch"]
    with pytest.raises(errors.OptionError, match="val_every 0"):
        unet.check_config(replace(CONFIG, val_every=0))


def _subnormals_left(statement: str) -> int:
    """In a fresh 2-thread interpreter: after `statement`, how many of 65536 subnormal products stay nonzero."""
    code = f"import torch; {statement}; t = torch.full((1 << 16,), 1e-39); print(int((t * 1.0).count_nonzero()))"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    return int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)


PREDICT_ON_A_TINY_IMAGE = """
import numpy as np, xarray as xr
from lulc_helpers import unet
config = unet.PRESETS["quick"]
model = unet.build_model(config)
image = xr.DataArray(np.full((10, 40, 40), 1500, np.uint16), dims=("band", "y", "x")).rio.write_crs(32633)
unet.UNetClassifier(model, config, unet.Normalisation.identity(10), offset=0, tta=False, device="cpu").classify(image)
"""


def test_subnormals_are_flushed_by_the_entry_points_not_by_an_import():
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush subnormal numbers")
    assert _subnormals_left("pass") == 1 << 16  # by default: slow subnormal arithmetic
    # importing the package changes nothing: the setting is the entry points' to make
    assert _subnormals_left("import lulc_helpers.unet.training, lulc_helpers.unet.predict, lulc_helpers.cli") == 1 << 16
    # prediction (what every Dask worker runs first) sets it for every thread of the process
    assert _subnormals_left(PREDICT_ON_A_TINY_IMAGE.strip().replace("\n", "; ")) == 0


def test_training_sets_it_again_each_epoch(split, tmp_path):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormal numbers")
    tiny = torch.full((1 << 16,), 1e-39)  # below float32's smallest normal number, 1.2e-38
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the check runs on this thread only, the one that was reset
    try:
        assert (tiny * 1.0).count_nonzero() == tiny.numel()
        unet.train(replace(CONFIG, epochs=1), split, tmp_path, device="cpu", progress=False)
        assert (tiny * 1.0).count_nonzero() == 0
    finally:
        torch.set_num_threads(threads)
