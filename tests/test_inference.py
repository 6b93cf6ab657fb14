"""Streaming inference: rasters of any size, block by block, in one process or on Dask."""

import gc
import json
import os
from dataclasses import replace

import numpy as np
import pytest
import rasterio
import torch
import xarray as xr

from lulc_helpers import allocator, classical, cli, data, errors, outputs, rasters, runtime, scheme, streaming, unet

from .ee_offline import calls_named, ee_offline  # noqa: F401  (fixture)
from .test_allocator import (BUFFER_BYTES, DASK_NANNY_ENVIRONMENT, counted_in_fresh_process, freshly_mapped_bytes, needs_glibc,
                             pages_faulted_again)
from .test_training import CONFIG, as_reflectance, synthetic_scene

BLOCK = 256  # the smallest block: several blocks even on the 401 x 401 test scene


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny U-Net (width 4, depth 2, window 64, overlap 16) trained for two epochs on a synthetic scene."""
    image, mask = synthetic_scene(seed=0)
    split = unet.Split(train=[(as_reflectance(image), mask)], train_names=["synthetic"])
    return unet.train(CONFIG, split, tmp_path_factory.mktemp("run"), device="cpu", progress=False).last_path


@pytest.fixture(scope="module")
def mosaic(tmp_path_factory, data_root):
    """768 x 768 pixels of mirrored copies of the Strzegom 20230709 image (the date sets the L2A offset)."""
    path = tmp_path_factory.mktemp("mosaic") / "mosaic_20230709.tif"
    return streaming.tile_mosaic(data_root / data.test_scene().image, path, 768)


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1)


def test_the_most_probable_class_is_numpys_argmax_plus_one_with_ties_to_the_first():
    from lulc_helpers.unet.predict import _most_probable

    probabilities = np.random.default_rng(0).integers(0, 4, (10, 50, 60)).astype(np.float32) / 4  # many ties
    codes = _most_probable(probabilities)
    assert codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, probabilities.argmax(axis=0) + 1)
    probabilities[[2, 5], 3, 4] = np.nan  # a broken network's output: argmax takes the first NaN
    probabilities[7, 10, 11] = np.nan
    np.testing.assert_array_equal(_most_probable(probabilities), probabilities.argmax(axis=0) + 1)


def test_blocks_tile_the_raster_once():
    grid = streaming.blocks(401, 600, 256)
    covered = np.zeros((401, 600), dtype=int)
    for (r0, r1), (c0, c1) in grid:
        covered[r0:r1, c0:c1] += 1
    assert len(grid) == 2 * 3 and (covered == 1).all()
    with pytest.raises(ValueError, match="multiple of 256"):
        streaming.blocks(401, 401, 300)


def test_a_block_frees_its_arrays_before_it_returns(checkpoint, mosaic):
    """A block's xarray objects form cycles (through their .rio accessor); they are collected when the block
    returns, not whenever Python's collector next runs, so that memory stays bounded on a whole tile."""
    classifier = unet.UNetClassifier.load(checkpoint, offset=0, tta=False, device="cpu")
    source = streaming.Source.open(mosaic)

    def arrays() -> int:
        return sum(type(o) is xr.DataArray for o in gc.get_objects())  # type(): no attribute of any object read

    gc.collect()
    gc.disable()  # only classify_block's own collection may free them
    try:
        before = arrays()
        streaming.classify_block(classifier, source, ((256, 512), (256, 512)))
        after = arrays()
    finally:
        gc.enable()
    assert after == before


def test_a_block_reads_every_window_that_touches_it():
    classifier = unet.UNetClassifier(None, CONFIG, None, window=64)  # stride 64 - 16 = 48
    # windows start at 0, 48, ..., 336 and 337 (the last one ends at the edge); those touching rows 256..400 start at
    # 240 (ends 304 > 256), 288, 336, 337; those touching rows 0..255 start at 0 ... 240 (the last ends at 304)
    assert classifier.reads((256, 401), (0, 256), 401, 401) == ((240, 401), (0, 304))


def test_streaming_equals_the_in_memory_prediction_on_the_test_scene(checkpoint, data_root, strzegom_test, tmp_path):
    path = data_root / strzegom_test.image
    image = rasters.open_image(path)
    agreement = {}
    for tta in (False, True):
        in_memory = unet.predict_scene(checkpoint, image, "cpu", tta=tta).values
        written = unet.predict_raster(checkpoint, path, tmp_path / f"tta{tta}.tif", "cpu", tta=tta, block=BLOCK, progress=False)
        streamed = _read(written.path)
        agreement[tta] = (streamed == in_memory).mean()
        assert written.counts == {int(c): int(n) for c, n in zip(*np.unique(streamed, return_counts=True))}
    # one pass: every block blends exactly the windows of the whole-scene grid, so every pixel is identical
    assert agreement[False] == 1.0
    # with the 8 flips/rotations, a flipped block's windows start from its own far edge, not the scene's
    assert agreement[True] >= 0.999


def test_two_dask_workers_write_what_one_process_writes(checkpoint, mosaic, tmp_path):
    alone = unet.predict_raster(checkpoint, mosaic, tmp_path / "alone.tif", "cpu", tta=False, block=BLOCK, progress=False)
    with streaming.dask_client(workers=2) as client:
        assert sorted(client.nthreads().values()) == [1, 1]
        spread = unet.predict_raster(
            checkpoint, mosaic, tmp_path / "dask.tif", "cpu", tta=False, block=BLOCK, client=client, progress=False
        )
    np.testing.assert_array_equal(_read(spread.path), _read(alone.path))
    assert spread.counts == alone.counts and sum(alone.counts.values()) == 768 * 768


def test_the_map_does_not_depend_on_the_number_of_threads(checkpoint, mosaic):
    """One PyTorch thread or two sum a convolution's products in a different order; the probabilities then differ in
    their last bits (float32: 2**-24 of 1), and a pixel can change class only where its two best classes are that close."""
    classifier = unet.UNetClassifier.load(checkpoint, offset=0, tta=False, device="cpu")
    image = classifier.normalisation.apply(unet.network_input(rasters.open_image(mosaic), None))
    threads, chances = torch.get_num_threads(), {}
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            chances[n] = unet.probabilities(classifier.model, image, classifier.config, "cpu", tta=False)
    finally:
        torch.set_num_threads(threads)
    largest = np.abs(chances[1] - chances[2]).max()
    assert largest < 1e-5
    top_two = np.sort(chances[1], axis=0)[-2:]
    changed = chances[1].argmax(axis=0) != chances[2].argmax(axis=0)
    assert (top_two[1] - top_two[0])[changed].max(initial=0) <= 2 * largest


def _predict_on_a_worker(classifier, source, block):
    """What the task's thread computes with after classifying a block: fresh mappings, subnormal products left."""
    streaming.classify_block(classifier, source, block)
    return freshly_mapped_bytes(), int((torch.full((1 << 16,), 1e-39) * 1.0).count_nonzero())


def _worker_profiles(dask_worker) -> bool:
    return "profile" in dask_worker.periodic_callbacks


@needs_glibc
def test_dask_client_workers_start_keeping_large_buffers_without_a_profiler(monkeypatch):
    for name in allocator.MALLOC_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with streaming.dask_client(workers=1) as client:
        assert list(client.run(freshly_mapped_bytes).values()) == [0]
        assert client.submit(pages_faulted_again, pure=False).result() < 20  # in the task's thread
        assert list(client.run(_worker_profiles).values()) == [False]
        assert not set(allocator.MALLOC_ENVIRONMENT) & set(os.environ)  # the workers' settings stay theirs


@needs_glibc
def test_prediction_sets_what_it_needs_on_any_dask_worker(checkpoint, mosaic, monkeypatch):
    """A worker of a cluster started elsewhere, with Dask's default environment: prediction itself sets it right."""
    from dask.distributed import Client, LocalCluster

    for name in allocator.MALLOC_ENVIRONMENT:  # left in this process's environment by a nanny of `dask_client`
        monkeypatch.delenv(name, raising=False)
    classifier = unet.UNetClassifier.load(checkpoint, offset=0, tta=False, device="cpu", window=64)
    source = streaming.Source.open(mosaic)
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        assert list(client.run(freshly_mapped_bytes).values())[0] >= BUFFER_BYTES
        mapped, subnormals = client.submit(_predict_on_a_worker, classifier, source, ((0, 256), (0, 256))).result()
    assert (mapped, subnormals) == (0, 0)


@needs_glibc
def test_prediction_in_a_process_started_like_a_dask_worker_keeps_large_buffers(checkpoint, mosaic):
    predict = (f"from lulc_helpers import unet; unet.predict_raster({str(checkpoint)!r}, {str(mosaic)!r}, "
               f"{str(mosaic.with_name('fresh.tif'))!r}, 'cpu', tta=False, progress=False)")
    assert counted_in_fresh_process(predict, DASK_NANNY_ENVIRONMENT) == 0


def test_the_output_is_a_tiled_coloured_class_map_and_a_cog_when_asked(checkpoint, mosaic, tmp_path):
    plain = unet.predict_raster(checkpoint, mosaic, tmp_path / "plain.tif", "cpu", tta=False, block=512, progress=False)
    cog = unet.predict_raster(checkpoint, mosaic, tmp_path / "cog.tif", "cpu", tta=False, block=512, progress=False, cog=True)
    with rasterio.open(mosaic) as source, rasterio.open(plain.path) as out:
        assert (out.crs, out.transform, out.shape) == (source.crs, source.transform, source.shape)
        assert out.profile["tiled"] and out.block_shapes == [(256, 256)] and out.compression.value == "DEFLATE"
        assert out.nodata == 0 and out.dtypes == ("uint8",)
        assert out.colormap(1)[10][:3] == (0x7B, 0x46, 0x7E)  # quarries, purple in the scheme's table
    with rasterio.open(cog.path) as out:
        assert out.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert out.overviews(1) and out.colormap(1)[10][:3] == (0x7B, 0x46, 0x7E)
        np.testing.assert_array_equal(out.read(1), _read(plain.path))
    assert not list(tmp_path.glob(f"*{outputs.TEMP_MARK}*"))


def test_an_interrupted_run_leaves_the_previous_file_and_the_next_starts_cleanly(checkpoint, mosaic, tmp_path, monkeypatch):
    out = tmp_path / "map.tif"
    out.write_bytes(b"the previous map")
    killed = tmp_path / f".map{outputs.TEMP_MARK}99999.tif"  # what a run killed with SIGKILL leaves behind
    killed.write_bytes(b"half a map")
    done = []
    classify_block = streaming.classify_block

    def interrupt_after_two_blocks(*args):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(1)
        return classify_block(*args)

    monkeypatch.setattr(streaming, "classify_block", interrupt_after_two_blocks)
    with pytest.raises(KeyboardInterrupt):
        unet.predict_raster(checkpoint, mosaic, out, "cpu", tta=False, block=BLOCK, progress=False)
    assert out.read_bytes() == b"the previous map" and sorted(tmp_path.iterdir()) == [out]
    monkeypatch.undo()
    unet.predict_raster(checkpoint, mosaic, out, "cpu", tta=False, block=BLOCK, progress=False)
    reference = unet.predict_raster(checkpoint, mosaic, tmp_path / "whole.tif", "cpu", tta=False, block=768, progress=False)
    np.testing.assert_array_equal(_read(out), _read(reference.path))


def test_cuda_batches_use_float16_autocast_and_cpus_bfloat16_with_amx_only(checkpoint, monkeypatch):
    calls = []
    real = torch.autocast

    def recording(device_type, dtype=None, enabled=True, **kwargs):
        calls.append((device_type, dtype, enabled))
        return real("cpu", enabled=False)

    monkeypatch.setattr(torch, "autocast", recording)
    cuda = torch.device("cuda")
    unet.mixed_precision(unet.amp_enabled(CONFIG, cuda), cuda)
    unet.mixed_precision(unet.amp_enabled(replace(CONFIG, amp=False), cuda), cuda)
    assert calls == [("cuda", torch.float16, True), ("cuda", torch.float16, False)]
    # device None: each process picks its own (runtime.pick_device), here the CPU: bfloat16 where it has AMX
    image, _ = synthetic_scene(seed=2, size=64)
    for amx in (False, True):
        monkeypatch.setattr(runtime, "cpu_has_amx", lambda: amx)
        calls.clear()
        classifier = unet.UNetClassifier.load(checkpoint, offset=0, tta=False)
        classifier.classify(xr.DataArray(image, dims=("band", "y", "x")).rio.write_crs("EPSG:32633"))
        assert calls == [("cpu", torch.bfloat16, amx)] and next(classifier.model.parameters()).device.type == "cpu"


def test_bfloat16_prediction_agrees_with_float32(checkpoint, data_root, strzegom_test, monkeypatch):
    image = rasters.open_image(data_root / strzegom_test.image)
    maps = {}
    for amx in (False, True):
        monkeypatch.setattr(runtime, "cpu_has_amx", lambda: amx)
        maps[amx] = unet.predict_scene(checkpoint, image, "cpu", tta=False).values
    # bfloat16 keeps 8 bits of mantissa: only near-ties between two classes may flip
    assert (maps[True] == maps[False]).mean() >= 0.99


def test_lulc_predict_streams_and_reports_blocks(checkpoint, mosaic, tmp_path, capsys):
    out = tmp_path / "unet.tif"
    args = ["predict", str(checkpoint), str(mosaic), str(out), "--device", "cpu", "--no-tta", "--block", "512"]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "768x768 pixels" in printed and "Mpx/s" in printed
    image = rasters.open_image(mosaic)
    np.testing.assert_array_equal(_read(out), unet.predict_scene(checkpoint, image, "cpu", tta=False).values)
    with pytest.raises(SystemExit):
        cli.main([*args[:-1], "300"])  # not a multiple of the 256-pixel tiles
    assert "multiple of 256" in capsys.readouterr().err


def test_lulc_classify_any_image_block_by_block(tmp_path, capsys, data_root):
    """A training date, not the test scene: the streamed map equals the whole image classified in memory."""
    scene = next(s for s in data.scenes("train", "strzegom") if s.date == "20220619")
    out = tmp_path / "rf.tif"
    args = ["classify", "--method", "rf", "--per-class", "20", "--image", str(data_root / scene.image), "--out", str(out)]
    assert cli.main([*args, "--block", "256"]) == 0
    assert str(out) in capsys.readouterr().out
    trained = classical.fit("rf", classical.training_points(20, 42), 42)
    expected = classical.classify_image(trained, rasters.open_image(data_root / scene.image))
    streamed = rasters.open_class_map(out)
    rasters.check_aligned(streamed, expected)
    np.testing.assert_array_equal(streamed.values, expected.values)
    assert set(np.unique(streamed.values)) <= {0, *scheme.CLASS_IDS}


def test_lulc_classify_needs_the_offset_of_an_undated_image(tmp_path, capsys, data_root):
    undated = streaming.tile_mosaic(data_root / data.test_scene().image, tmp_path / "mosaic.tif", 256)
    out = tmp_path / "cart.tif"
    assert cli.main(["classify", "--method", "cart", "--image", str(undated), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "mosaic.tif" in err and "--offset" in err and not out.exists()


def test_gee_region_mode_classifies_the_collection_over_a_polygon_and_exports_it(ee_offline, tmp_path):
    region = tmp_path / "area.geojson"
    square = [[16.2, 50.95], [16.3, 50.95], [16.3, 51.0], [16.2, 51.0], [16.2, 50.95]]  # near Strzegom, UTM 33N
    region.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [square]}}]}))
    from lulc_helpers.classical import gee

    area, crs = gee.read_region(region)
    assert crs == "EPSG:32633"
    classified = gee.classify_region("rf", area, "2023-06-01", days=30)
    assert {c["id"] for c in calls_named(classified, "ImageCollection.load")} == {"COPERNICUS/S2_SR_HARMONIZED"}
    assert {c["delta"] for c in calls_named(classified, "Date.advance")} == {30}
    assert calls_named(classified, "reduce.median") and not calls_named(classified, "ImageCollection.mosaic")
    assert calls_named(classified, "Classifier.smileRandomForest")[0]["numberOfTrees"] == 10
    polygon = calls_named(classified, "GeometryConstructors.Polygon")[0]
    assert polygon["coordinates"] == [square] and polygon["geodesic"] is False
    task = gee.export_region(classified, area, crs, "rf_area", "drive", folder="maps")
    assert task.config["fileExportOptions"]["driveDestination"] == {"folder": "maps", "filenamePrefix": "rf_area"}
    expression = task.config["expression"]
    (clip,) = calls_named(expression, "Image.clipToBoundsAndScale")
    assert clip["scale"] == 10 and {"crs": "EPSG:32633"} in calls_named(expression, "Projection")
    asset = gee.export_region(classified, area, crs, "rf_area", "asset", asset_id="projects/p/assets/rf_area")
    assert asset.config["assetExportOptions"]["pyramidingPolicy"] == "MODE"
    with pytest.raises(ValueError, match="asset"):
        gee.export_region(classified, area, crs, "rf_area", "asset")


def test_gee_region_must_hold_a_polygon(ee_offline, tmp_path):
    from lulc_helpers.classical import gee

    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(errors.DataError, match="empty.geojson"):
        gee.read_region(empty)
    with pytest.raises(errors.DataError, match="missing.gpkg"):
        gee.read_region(tmp_path / "missing.gpkg")
