"""Training curves: loss and validation scores per epoch, drawn once or redrawn in place while training runs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def draw_curves(histories: dict[str, pd.DataFrame], axes) -> None:
    """Draw training curves: loss (left) and validation macro F1 (right) against epoch, one line per training.

    Parameters
    ----------
    histories : dict of str to pandas.DataFrame
        Per training (the legend label), its history with columns epoch, loss and val_f1 (NaN on epochs
        without validation).
    axes : pair of matplotlib.axes.Axes
        The loss and the validation axes; both are cleared first.
    """
    loss_ax, val_ax = axes
    for ax in axes:
        ax.clear()
    for label, history in histories.items():
        loss_ax.plot(history["epoch"], history["loss"], marker="o", markersize=2, label=label)
        validated = history[history["val_f1"].notna()]  # every `val_every`-th epoch
        if len(validated):
            val_ax.plot(validated["epoch"], validated["val_f1"], marker="o", markersize=2, label=label)
    loss_ax.set(xlabel="epoch", ylabel="focal loss (training patches)", title="training loss")
    val_ax.set(xlabel="epoch", ylabel="macro F1", ylim=(0, 1), title="validation (training dates only)")
    if histories:
        val_ax.legend(loc="lower right", fontsize="small")


class LiveCurves:
    """An `on_epoch` callback for `unet.train`, `sweep` and `seed_runs`: one figure in the notebook output,
    redrawn every `every` epochs and at each training's last epoch, with every training of the cell so far."""

    def __init__(self, epochs: int, every: int = 10):
        self.epochs, self.every = epochs, every
        self.histories: dict[str, pd.DataFrame] = {}
        self.fig, self.axes = plt.subplots(1, 2, figsize=(11, 3.5))
        plt.close(self.fig)  # shown through the display handle only, not again at the end of the cell
        self.handle = None
        self._last_epoch = 0

    def __call__(self, history: pd.DataFrame) -> None:
        epoch = int(history["epoch"].iloc[-1])
        if not self.histories or epoch <= self._last_epoch:  # a new training began
            self.histories[f"training {len(self.histories) + 1}"] = history
        self.histories[list(self.histories)[-1]] = history
        self._last_epoch = epoch
        if epoch % self.every == 0 or epoch == self.epochs:
            self.redraw()

    def redraw(self) -> None:
        from IPython.display import display

        draw_curves(self.histories, self.axes)
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)
