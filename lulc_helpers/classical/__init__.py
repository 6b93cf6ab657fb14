"""The classical family: CART, Random Forest (10 trees) and a linear SVM, the paper's Google Earth Engine
classifiers, run locally with scikit-learn (this package's namespace, from `local`) or in Earth Engine
(`lulc_helpers.classical.gee`, the same steps). It never imports the U-Net family (`lulc_helpers.unet`), nor
that family it (docs/design.md).
"""

from .local import (  # noqa: F401
    band_values,
    classify_image,
    classify_values,
    features,
    fit,
    make_classifier,
    METHOD_NAMES,
    METHODS,
    PixelClassifier,
    point_count_table,
    RF_TREES,
    run,
    sample_points,
    test_points,
    timing_table,
    Trained,
    training_points,
)
