"""The progress bar of every long-running loop: simulation, training, rollouts, plots.

tqdm is a core dependency, so there is no fallback: a disabled bar is tqdm's own no-op
(``disable=True``), which accepts the whole bar API (``update``, ``set_postfix_str``, ``close``,
use as a context manager) and prints nothing.
"""

from __future__ import annotations

__all__ = ["PROGRESS_DELAY_S", "progress_bar"]

PROGRESS_DELAY_S = 2.0
"""Seconds a delayed bar (rollouts, plots) waits before it appears: quick runs print nothing."""


def progress_bar(enabled: bool, *, delayed: bool = True, mininterval: float = 0.5, **kwargs):
    """A tqdm bar on stderr (``tqdm.auto``), or a silent one when ``enabled`` is false.

    ``delayed``: show up only after :data:`PROGRESS_DELAY_S` seconds (read at each call);
    ``mininterval``: redraw at most this often (0.5 s: cheap in logs). Other keyword arguments
    (``total``, ``desc``, ``unit``, ...) go to tqdm.
    """
    from tqdm.auto import tqdm

    if delayed:
        kwargs.setdefault("delay", PROGRESS_DELAY_S)
    return tqdm(disable=not enabled, mininterval=mininterval, **kwargs)
