"""Helpers for the lulc-mining notebooks: data, scheme, models, metrics and maps.

Replicates Hejmanowska et al. (2025), "The Potential of U-Net in Detecting Mining
Activity: Accuracy Assessment Against GEE Classifiers", Appl. Sci. 15, 9785.
The modules, their layers and conventions: docs/design.md.
"""

__version__ = "0.1.0"
