import numpy as np
import pytest

from lulc_helpers.unet.patches import Normalisation, PatchSampler, augment, jitter


def _images():
    rng = np.random.default_rng(0)
    a = rng.integers(100, 5000, size=(10, 20, 30)).astype(np.uint16)
    b = rng.integers(100, 9000, size=(10, 25, 25)).astype(np.uint16)
    b[:, :5, :] = 0  # nodata rows: every band 0
    return a, b


def test_normalisation_fits_valid_pixels_only():
    a, b = _images()
    pixels = np.concatenate([a.reshape(10, -1), b[:, 5:, :].reshape(10, -1)], axis=1).astype(np.float64)
    norm = Normalisation.fit([a, b])
    np.testing.assert_allclose(norm.mean, pixels.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(norm.std, pixels.std(axis=1), rtol=1e-9)
    scaled = norm.apply(a)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled[:, 0, 0], (a[:, 0, 0] - pixels.mean(axis=1)) / pixels.std(axis=1), rtol=1e-5)


def test_normalisation_skips_nan_reflectance_and_fills_it_with_zero():
    a, _ = _images()
    reflectance = a / 10000.0
    reflectance[:, 0, :] = np.nan  # no data, as rasters.reflectance marks it
    norm = Normalisation.fit([reflectance])
    np.testing.assert_allclose(norm.mean, reflectance[:, 1:, :].reshape(10, -1).mean(axis=1), rtol=1e-9)
    scaled = norm.apply(reflectance)
    assert (scaled[:, 0, :] == 0).all() and np.isfinite(scaled).all()


def test_normalisation_in_place_gives_the_same_values_in_the_image_it_was_given():
    a, _ = _images()
    reflectance = (a / 10000.0).astype(np.float32)
    reflectance[:, 0, :] = np.nan
    norm = Normalisation.fit([reflectance])
    by_hand = (reflectance - np.float32(norm.mean)[:, None, None]) / np.float32(norm.std)[:, None, None]
    copied = norm.apply(reflectance)
    assert np.isnan(reflectance[:, 0, :]).all()  # left as it was
    overwritten = norm.apply(reflectance, overwrite=True)
    assert overwritten is reflectance and np.array_equal(overwritten, copied)
    np.testing.assert_allclose(copied[:, 1:, :], by_hand[:, 1:, :], rtol=1e-6)
    infinite = np.full((10, 1, 2), np.inf, dtype=np.float32)
    infinite[:, 0, 1] = -np.inf
    np.testing.assert_array_equal(norm.apply(infinite), np.nan_to_num(infinite))  # +-inf to the largest float32, as nan_to_num


def test_normalisation_round_trip_and_band_check():
    norm = Normalisation.fit(_images())
    assert Normalisation.from_dict(norm.to_dict()) == norm
    with pytest.raises(ValueError, match="4 bands"):
        norm.apply(np.zeros((4, 3, 3)))


def test_augment_keeps_image_and_mask_together():
    rng = np.random.default_rng(1)
    mask = np.arange(36).reshape(6, 6)
    image = np.stack([mask * 10.0, mask * -1.0])
    seen = set()
    for _ in range(40):
        x, y = augment(image, mask, rng)
        np.testing.assert_array_equal(x[0], y * 10.0)
        np.testing.assert_array_equal(x[1], -y)
        seen.add(y.tobytes())
    assert len(seen) == 8  # the eight symmetries of the square


def _scene():
    mask = np.zeros((60, 60), dtype=np.uint8)
    mask[10:50, 10:50] = 4  # a large field
    mask[55, 55] = 8  # one water pixel
    image = np.stack([mask.astype(np.float32)] * 10)
    return image, mask


def test_every_patch_holds_a_labelled_pixel():
    image, mask = _scene()
    x, y = PatchSampler([image], [mask], size=8).sample(50, np.random.default_rng(0))
    assert x.shape == (50, 10, 8, 8) and y.shape == (50, 8, 8)
    assert all((patch > 0).any() for patch in y)
    np.testing.assert_array_equal(x[:, 0], y)  # the image patch comes from the same window as the mask


def test_balanced_sampling_favours_rare_classes():
    image, mask = _scene()
    rare = {}
    for balanced in (True, False):
        _, y = PatchSampler([image], [mask], size=8, balanced=balanced).sample(400, np.random.default_rng(0))
        rare[balanced] = np.mean([(patch == 8).any() for patch in y])
    assert rare[True] > 0.4  # half the draws pick the water class
    assert rare[False] < 0.05  # one pixel in 1601 labelled


def test_scene_smaller_than_patch():
    image, mask = _scene()
    with pytest.raises(ValueError, match="smaller than the patch size"):
        PatchSampler([image], [mask], size=100)


def test_jitter_scales_and_shifts_each_band():
    x = np.random.default_rng(0).normal(size=(10, 6, 6)).astype(np.float32)
    gains, shifts = [], []
    rng = np.random.default_rng(1)
    for _ in range(20):
        out = jitter(x, 0.2, rng)
        for band, original in zip(out, x):  # each band: gain * band + shift, gain and shift its own
            gain, shift = np.polyfit(original.ravel(), band.ravel(), 1)
            np.testing.assert_allclose(band, gain * original + shift, atol=1e-5)
            gains.append(gain)
            shifts.append(shift)
    assert 0.8 - 1e-5 <= min(gains) < 0.85 and 1.15 < max(gains) <= 1.2 + 1e-5
    assert -0.2 - 1e-5 <= min(shifts) < -0.15 and 0.15 < max(shifts) <= 0.2 + 1e-5
    assert np.std(gains[:10]) > 0.05  # the bands of one patch are not scaled alike


def test_sampler_jitters_images_and_not_masks():
    image, mask = _scene()
    x, y = PatchSampler([image], [mask], size=8, jitter=0.2).sample(50, np.random.default_rng(0))
    assert all((patch > 0).any() for patch in y)
    assert np.abs(x[:, 0] - y).max() > 0.01  # the image patch is no longer the mask's copy
    np.testing.assert_array_equal(np.unique(y), [0, 4, 8])


def test_jitter_of_zero_strength_is_the_identity():
    x = np.random.default_rng(0).normal(size=(10, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(jitter(x, 0.0, np.random.default_rng(1)), x)
