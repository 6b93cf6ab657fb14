"""Progress bars: tqdm.auto's, whose notebook output reads as finished once the bar closes."""

from __future__ import annotations

import functools


def progress_bar(iterable=None, **options):
    """tqdm.auto's progress bar (text in a terminal, a widget in a notebook) whose notebook output reads as finished.

    A notebook bar is displayed once, as it starts, and then only its widget changes: the output's text form (what
    a copy of the notebook shows where widgets are not drawn, such as a text export or a repository's viewer) kept
    that first state, "0% 0/160". This bar displays itself again as it closes, so the text form is its last state.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over, as for tqdm.
    **options
        tqdm's options (total, desc, unit, disable, ...).

    Returns
    -------
    tqdm.auto.tqdm
        The bar.
    """
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm as notebook_tqdm

    # smoothing 0: the rate shown is the mean over the whole run, the figure a notebook prints beside the bar
    return (_notebook_bar() if issubclass(tqdm, notebook_tqdm) else tqdm)(iterable, **{"smoothing": 0, **options})


@functools.cache
def _notebook_bar():
    from IPython.display import display
    from tqdm.auto import tqdm

    class NotebookBar(tqdm):
        """tqdm's notebook bar, displayed under a display id, and displayed again (updated) when it closes."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, display=False, **kwargs)
            self._handle = None if self.disable else display(self.container, display_id=True)

        def close(self):
            was_open = not self.disable
            super().close()
            if was_open and self._handle is not None:
                self._handle.update(self.container)

    return NotebookBar
