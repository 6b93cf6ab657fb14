"""The one write path: temp file beside the target, verify, atomic rename; nothing lost on failure."""

import os
import stat

import pytest

from lulc_helpers import errors, outputs


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "map.tif"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match="boom"):
        with outputs.atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif"]


def test_failed_verification_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def reject(path):
        raise errors.OutputError(f"{target}: does not read back")

    with pytest.raises(errors.OutputError, match="out.csv"):
        with outputs.atomic_output(target, verify=reject) as tmp:
            tmp.write_text("new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_success_replaces_with_ordinary_permissions_and_clears_stale_temps(tmp_path):
    target = tmp_path / "out.csv"
    stale = outputs.temp_path(target).with_name(f".out{outputs.TEMP_MARK}99999.csv")
    stale.write_text("left by a killed run")
    old = os.umask(0o022)
    try:
        with outputs.atomic_output(target) as tmp:
            tmp.write_text("new")
    finally:
        os.umask(old)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_file_in_the_way_of_the_folder_is_one_clear_error(tmp_path):
    (tmp_path / "blocker").write_text("")
    with pytest.raises(errors.OutputError, match="a file of that name is in the way"):
        with outputs.atomic_output(tmp_path / "blocker" / "map.tif") as tmp:
            tmp.write_text("x")


def test_collisions_are_refused(tmp_path):
    image = tmp_path / "in.tif"
    with pytest.raises(errors.OutputCollision, match="overwrite the input"):
        outputs.refuse_collisions([image], [tmp_path / "." / "in.tif"])
    with pytest.raises(errors.OutputCollision, match="same file"):
        outputs.refuse_collisions([image], [tmp_path / "a.gpkg", tmp_path / "a.gpkg"])
    outputs.refuse_collisions([image], [tmp_path / "a.gpkg", tmp_path / "a.csv", None])


def test_progress_on_stderr_during_a_write_passes_through_and_is_no_error(tmp_path, capfd):
    with outputs.gdal_errors_raise(tmp_path / "map.tif"):
        os.write(2, b"\rmap.tif:  50%|#####     | 8.0M/16.0M\r")
    assert "50%" in capfd.readouterr().err


def test_a_libtiff_error_line_on_stderr_fails_the_write_once(tmp_path, capfd):
    with pytest.raises(errors.OutputError, match="map.tif: could not write: _tiffSeekProc: No space left"):
        with outputs.gdal_errors_raise(tmp_path / "map.tif"):
            os.write(2, b"_tiffSeekProc: No space left on device.\n")
    assert "_tiffSeekProc" not in capfd.readouterr().err
