"""Rich progress display for long commands: a status line for loading and a bar over tasks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Notify = Callable[[str], None]
Advance = Callable[[int, int, str], None]


@contextmanager
def task_progress(*, console: Console, quiet: bool) -> Iterator[tuple[Notify, Advance]]:
    """Show a spinner with status messages and a bar that advances per task.

    Args:
        console: where to draw (stderr, so stdout stays clean for ``--json``).
        quiet: draw nothing.

    Yields:
        ``(notify, advance)``: ``notify(message)`` sets the status text; ``advance(done, total, name)`` moves
        the task bar.
    """
    if quiet:
        # lm-eval passes disable=False to its tqdm bars explicitly, so only redirecting them silences them.
        with open(os.devnull, "w", encoding="utf-8") as sink, redirect_stderr(sink):
            yield (lambda message: None), (lambda done, total, name: None)
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    progress = Progress(*columns, console=console, transient=False)
    bar = progress.add_task("starting", total=None)

    def notify(message: str) -> None:
        progress.update(bar, description=message)

    def advance(done: int, total: int, name: str) -> None:
        progress.update(bar, completed=done, total=total,
                        description="tasks done" if done == total else f"task {name}")

    progress.start()
    try:
        yield notify, advance
    except BaseException:
        # A failed command ends in one error line: clear the status line instead of leaving it (and, when
        # stderr is not a terminal, the blank line Progress.stop adds) above the error.
        progress.live.transient = True
        progress.live.stop()
        raise
    progress.stop()
