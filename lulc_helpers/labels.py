"""Working with the reference labels: class counts and weights, name checks, mask comparison, crop phases."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from . import data, indices, scheme


def class_counts(masks: Iterable[np.ndarray]) -> np.ndarray:
    """Labelled pixels per class over all masks: an array indexed by class id (index 0 = unlabelled)."""
    counts = np.zeros(len(scheme.CLASSES) + 1, dtype=np.int64)
    for number, mask in enumerate(masks, start=1):
        values = np.asarray(mask).astype(np.int64).ravel()
        scheme.validate_codes(values, f"mask {number}")  # a stray code would otherwise be dropped silently
        counts += np.bincount(values, minlength=counts.size)
    return counts


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency weights, w_c = N / (K * n_c), indexed by class id.

    N is the number of labelled pixels, K the number of classes present and n_c the pixels of
    class c (scikit-learn's "balanced" rule): a class with the average share gets weight 1, a
    class ten times rarer gets 10. Unlabelled (0) and absent classes get weight 0.
    """
    counts = np.asarray(counts, dtype=np.float64).copy()
    counts[scheme.NODATA] = 0
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


# ---------------------------------------------------------------- names in a reference GeoPackage


def name_report(frame, name_field: str = "name", label_field: str = "label"):
    """One row per (name, label) pair of a reference GeoDataFrame, with polygon count and a status.

    Status: `ok`; `typo of X` (counted with X's classes, reported rather than silently fixed);
    `no name`; `unknown name`; `label not expected for this name`.
    """
    import pandas as pd

    source = frame.attrs.get("source", "reference polygons")
    missing = [f for f in (name_field, label_field) if f not in frame.columns]
    if missing:
        fields = [c for c in frame.columns if c != "geometry"]
        raise data.DataError(f"{source}: no field {', '.join(missing)}; its fields are {fields}")
    names = frame[name_field].astype("object").where(frame[name_field].notna(), None)
    pairs = pd.DataFrame({"name": names, "label": frame[label_field].astype(int)})
    counts = pairs.groupby(["name", "label"], dropna=False).size().rename("polygons").reset_index()
    counts["status"] = [_name_status(n, lab) for n, lab in zip(counts["name"], counts["label"])]
    return counts.sort_values(["label", "name"], na_position="last").reset_index(drop=True)


def _name_status(name, label: int) -> str:
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return "no name"
    try:
        entry = scheme.reference_name(name)
    except scheme.UnknownClassError:
        return "unknown name"
    if label not in entry.classes:
        return "label not expected for this name"
    return f"typo of {entry.typo_of}" if entry.typo_of else "ok"


# ---------------------------------------------------------------- comparing two masks on one grid

DIFFERENCE_KINDS = {0: "same", 1: "both labelled, classes differ", 2: "only in the first", 3: "only in the second"}


def _pair(first, second) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(first).astype(np.int64), np.asarray(second).astype(np.int64)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    return a, b


def difference_kinds(first, second) -> np.ndarray:
    """Per pixel, a key of DIFFERENCE_KINDS: why two masks on one grid disagree there (0 = they agree)."""
    a, b = _pair(first, second)
    kinds = np.zeros(a.shape, dtype=np.uint8)
    differ = a != b
    kinds[differ & (a > 0) & (b > 0)] = 1
    kinds[differ & (b == scheme.NODATA)] = 2
    kinds[differ & (a == scheme.NODATA)] = 3
    return kinds


def difference_pairs(first, second):
    """Pixels where two masks differ, counted per (first class, second class); 0 = unlabelled."""
    import pandas as pd

    a, b = _pair(first, second)
    differ = a != b
    pairs, counts = np.unique(np.stack([a[differ], b[differ]]), axis=1, return_counts=True)
    table = pd.DataFrame({"first": pairs[0], "second": pairs[1], "pixels": counts})
    return table.sort_values("pixels", ascending=False).reset_index(drop=True)


def agreement_per_class(first, second):
    """Per class present in either mask: its pixels in each, in both, and agreement = both / either
    (intersection over union; 1.0 when the two masks draw the class identically)."""
    import pandas as pd

    a, b = _pair(first, second)
    rows = []
    for c in scheme.CLASS_IDS:
        in_a, in_b = a == c, b == c
        either = int((in_a | in_b).sum())
        if either:
            both = int((in_a & in_b).sum())
            rows.append({"class": c, "name": scheme.get(c).name, "first": int(in_a.sum()), "second": int(in_b.sum()),
                         "both": both, "agreement": both / either})
    return pd.DataFrame(rows).set_index("class")


# ---------------------------------------------------------------- seasonal crop phases (classes 4 and 9)

CROP_PHASES = (4, 9)  # before harvest / early spring, in vegetation stage
PHASE_INDICES = ("NDVI", "NDMI")
# Fitted on the six Strzegom training dates with fit_phase_rule (notebook 02 refits and checks them).
NDVI_MIN, NDMI_MIN = 0.44, 0.00


def crop_phase(ndvi, ndmi, ndvi_min: float = NDVI_MIN, ndmi_min: float = NDMI_MIN) -> np.ndarray:
    """The one-date rule for a crop pixel: 9 (in vegetation stage) when it is green, NDVI >= ndvi_min,
    and not drying, NDMI >= ndmi_min; else 4 (ripe before harvest, or bare/brown in early spring).
    A NaN index gives 0 (unlabelled)."""
    ndvi, ndmi = np.asarray(ndvi, dtype=np.float64), np.asarray(ndmi, dtype=np.float64)
    phase = np.where((ndvi >= ndvi_min) & (ndmi >= ndmi_min), 9, 4).astype(np.uint8)
    phase[np.isnan(ndvi) | np.isnan(ndmi)] = scheme.NODATA
    return phase


def _phase_indices(image) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """PHASE_INDICES of `image` from surface reflectance (L2A offset removed) and where all are finite."""
    reflectance = data.reflectance(image)
    values = {name: indices.INDICES[name](reflectance).values for name in PHASE_INDICES}
    return values, np.logical_and.reduce([np.isfinite(v) for v in values.values()])


def crop_pixels_of(image, mask, date: str, split: str = ""):
    """The pixels `mask` labels 4 or 9, with NDVI and NDMI from surface reflectance (`data.reflectance`,
    so the L2A offset of 2022+ scenes is removed): columns date, split, phase, NDVI, NDMI.

    Pixels without data in a band are dropped: the Strzegom images carry a zero edge (10 m bands: last row
    and first column; 20 m bands: first two rows and last column) that their masks still label.
    """
    import pandas as pd

    values = np.asarray(mask)
    columns, valid = _phase_indices(image)
    keep = np.isin(values, CROP_PHASES) & valid
    return pd.DataFrame({"date": date, "split": split, "phase": values[keep],
                         **{name: v[keep] for name, v in columns.items()}})


def crop_pixels(scenes: Iterable[data.Scene], root=None):
    """`crop_pixels_of` for each scene that has an image (the others are skipped), in one table."""
    import pandas as pd

    frames = []
    for scene in scenes:
        image, mask = _scene_with_image(scene, root)
        if image is not None:
            frames.append(crop_pixels_of(image, mask.values, scene.date, scene.split))
    if not frames:
        raise data.DataError("crop_pixels: none of the scenes has an image")
    return pd.concat(frames, ignore_index=True)


def _scene_with_image(scene: data.Scene, root):
    return data.load_scene(scene, root) if scene.has_image(root) else (None, None)


def balanced_agreement(rule, mask) -> float:
    """Mean over classes 4 and 9 (those present in `mask`) of the share of the mask's pixels the rule reproduces."""
    rule, mask = np.asarray(rule), np.asarray(mask)
    return float(np.mean([(rule[mask == c] == c).mean() for c in CROP_PHASES if (mask == c).any()]))


def fit_phase_rule(pixels, ndvi_grid=None, ndmi_grid=None) -> tuple[float, float]:
    """(ndvi_min, ndmi_min) on a 0.02 grid that maximise `balanced_agreement` with the mask over `pixels`
    (a `crop_pixels` table). Balanced, so the rarer phase of a date is not drowned by the common one."""
    ndvi_grid = np.round(np.arange(0.0, 0.9001, 0.02), 2) if ndvi_grid is None else np.asarray(ndvi_grid)
    ndmi_grid = np.round(np.arange(-0.3, 0.6001, 0.02), 2) if ndmi_grid is None else np.asarray(ndmi_grid)
    ndvi, ndmi, mask = (pixels[c].to_numpy() for c in ("NDVI", "NDMI", "phase"))
    scores = np.array([[balanced_agreement(crop_phase(ndvi, ndmi, a, b), mask) for b in ndmi_grid] for a in ndvi_grid])
    best_a, best_b = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(ndvi_grid[best_a]), float(ndmi_grid[best_b])


def phase_agreement(pixels, ndvi_min: float = NDVI_MIN, ndmi_min: float = NDMI_MIN):
    """Per date of a `crop_pixels` table: crop pixels, the rule's agreement with the mask, and the share
    of the mask's 4s and of its 9s that the rule reproduces."""
    import pandas as pd

    rows = []
    for (date, split), group in pixels.groupby(["date", "split"], sort=True):
        rule, mask = crop_phase(group["NDVI"], group["NDMI"], ndvi_min, ndmi_min), group["phase"].to_numpy()
        row = {"date": date, "split": split, "crop pixels": len(group), "agreement": (rule == mask).mean()}
        for phase in CROP_PHASES:
            of_phase = mask == phase
            row[f"{phase}: pixels"] = int(of_phase.sum())
            row[f"{phase}: agreement"] = (rule[of_phase] == phase).mean() if of_phase.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("date")


def parcel_series(parcels, scenes: Iterable[data.Scene], root=None):
    """Median NDVI and NDMI of each crop parcel on each date, with the class the date's mask gives most
    often inside it (4, 9, or another code such as 5 after ploughing; 0 if unlabelled).

    `parcels` is a reference GeoDataFrame (`data.read_reference`); its polygons of class 4 or 9 are the parcels.
    Returns a long table: parcel, date, phase, NDVI, NDMI.
    """
    import pandas as pd
    from rasterio import features

    crops = parcels[parcels["class_id"].isin(CROP_PHASES)]
    rows = []
    for scene in scenes:
        image, mask = _scene_with_image(scene, root)
        if image is None:
            continue
        ids = features.rasterize(
            ((geom, i + 1) for i, geom in enumerate(crops.to_crs(mask.rio.crs).geometry)),
            out_shape=mask.shape, transform=mask.rio.transform(), fill=0, dtype="int32",
        )
        values, valid = _phase_indices(image)
        for parcel in np.unique(ids[(ids > 0) & valid]):
            inside = (ids == parcel) & valid
            codes = np.bincount(mask.values[inside], minlength=len(scheme.CLASSES) + 1)
            rows.append({"parcel": int(parcel), "date": scene.date, "phase": int(np.argmax(codes)),
                         **{name: float(np.nanmedian(v[inside])) for name, v in values.items()}})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- class balance


def training_counts(require_image: bool = False, root=None) -> np.ndarray:
    """`class_counts` over the masks of the paper's training scenes (`data.scenes("train")`), indexed by
    class id. With `require_image`, only scenes whose image is present, i.e. what training can use here."""
    root = root or data.data_dir()
    usable = [s for s in data.scenes("train") if not require_image or s.has_image(root)]
    if not usable:
        raise data.DataError(f"{root}: no training scene with an image (run `lulc fetch`)")
    return class_counts(data.open_mask(root / s.mask).values for s in usable)
