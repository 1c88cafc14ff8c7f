"""Callbacks that report: a CSV file of the epochs, and a progress bar."""

from __future__ import annotations

import csv
import io

from .._checks import checked_number
from .._text import shown
from ..io import write_atomic
from .base import Callback

__all__ = ["CSVLogger", "ProgressBar"]


class CSVLogger(Callback):
    """Write one row per epoch to a CSV file: the epoch and every logged number.

    The whole file is rewritten atomically after every epoch (:func:`mlp.io.write_atomic`),
    so it is never half-written, and written when training starts (empty, or with the rows
    kept) so that an unwritable path fails before any work. Columns are added as new
    numbers appear. Epochs are numbered from 1, as the command line prints them.

    Parameters
    ----------
    path : str or Path
    append : bool, default False
        False: each ``fit`` call starts the file afresh. True: the rows of earlier ``fit``
        calls with this logger are kept and the new epochs numbered after them (an
        estimator's ``partial_fit`` calls, a warm start, a Trainer fitted again).
    """

    def __init__(self, path, append=False):
        if not isinstance(append, bool):
            raise TypeError(f"CSVLogger: append must be True or False, got {append!r}")
        self.path, self.append = path, append
        self.rows = []

    def on_train_begin(self, logs=None):
        if not self.append:
            self.rows = []
        self._write()

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        if self.rows and number <= self.rows[-1]["epoch"]:  # another trainer's count
            number = self.rows[-1]["epoch"] + 1
        self.rows.append({"epoch": number, **logs})
        self._write()
        return False

    def _write(self):
        if not self.rows:
            write_atomic(self.path, "")
            return
        columns = []
        for row in self.rows:
            columns += [key for key in row if key not in columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        write_atomic(self.path, buffer.getvalue())

    def state_dict(self):
        return {"rows": [dict(row) for row in self.rows]}

    def load_state_dict(self, state):
        rows = state.get("rows")
        if not isinstance(rows, list) or not all(
                isinstance(row, dict) and all(isinstance(v, (int, float, str)) and
                                              not isinstance(v, bool) for v in row.values())
                for row in rows):
            raise ValueError("CSVLogger: the saved rows must be a list of objects of numbers")
        for i, row in enumerate(rows):
            for key, value in row.items():
                if not isinstance(value, str):
                    checked_number(value, f"CSVLogger: the saved rows[{i}].{shown(key)}",
                                   finite=False, nan=True)
        self.rows = [dict(row) for row in rows]  # a resumed run's file keeps the earlier epochs


class ProgressBar(Callback):
    """A tqdm bar over the epochs, showing the latest logged numbers.

    Parameters
    ----------
    epochs : int, optional
        The bar's total (the ``epochs`` passed to ``fit``).
    file : file object, optional
        Where to draw (tqdm's default, standard error).
    leave : bool, default True
        Keep the finished bar on the screen.
    disable : bool or None, default False
        None: no bar when ``file`` is not a terminal (logs, pipes).
    keys : sequence of str, optional
        The logged numbers to show, in this order (default: all of them).
    """

    def __init__(self, epochs=None, file=None, leave=True, disable=False, keys=None):
        self.epochs, self.file, self.leave, self.disable = epochs, file, leave, disable
        self.keys = None if keys is None else tuple(keys)
        self._bar = None

    @property
    def active(self):
        """Whether a bar is being drawn now."""
        return self._bar is not None and not self._bar.disable

    def on_train_begin(self, logs=None):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.epochs, file=self.file, unit="epoch", leave=self.leave,
                         disable=self.disable, dynamic_ncols=True)

    def on_epoch_end(self, epoch, logs=None):
        keys = logs if self.keys is None else [k for k in self.keys if k in logs]
        self._bar.set_postfix({k: f"{logs[k]:.4g}" for k in keys}, refresh=False)
        self._bar.update(1)
        return False

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
