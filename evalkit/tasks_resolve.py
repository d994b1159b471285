"""Find lm-eval tasks by name, group, tag or YAML path, with the bundled offline tasks always available.

Building lm-eval's full task index takes several seconds, so it is built only when a requested name is not
one of the bundled tasks.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from evalkit.errors import DatasetUnavailableError, TaskError
from evalkit.quiet import quiet_libraries

if TYPE_CHECKING:
    from lm_eval.api.task import Task
    from lm_eval.tasks import TaskManager

BUNDLED_TASKS_DIR = Path(__file__).resolve().parent / "tasks"
_DATASET_ERRORS = ("ConnectionError", "DatasetNotFoundError", "LocalEntryNotFoundError", "OfflineModeIsEnabled",
                   "HfHubHTTPError", "FileNotFoundError", "DataFilesNotFoundError")


@dataclass(frozen=True)
class LoadedTasks:
    """The leaf tasks behind one requested name, in lm-eval's order, and the groups that contain them."""

    requested: str
    tasks: dict[str, Task]
    groups: dict[str, Any] = field(default_factory=dict)


def bundled_task_names() -> list[str]:
    """Return the names of the offline tasks that ship in ``evalkit/tasks``."""
    names = []
    for path in sorted(BUNDLED_TASKS_DIR.glob("*.yaml")):
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=_IgnoreTagsLoader) or {}
        if isinstance(config.get("task"), str):
            names.append(config["task"])
    return names


class _IgnoreTagsLoader(yaml.SafeLoader):
    """Reads task YAMLs without executing ``!function`` tags."""


_IgnoreTagsLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _validate_yaml_path(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TaskError(f"task file {path} does not exist: check the path")
    try:
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=_IgnoreTagsLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise TaskError(f"task file {path} is not valid YAML{where}: fix its syntax") from error
    if not isinstance(config, dict) or not any(key in config for key in ("task", "group", "include")):
        raise TaskError(f"task file {path} has no 'task' or 'group' key, so it is not an lm-eval task config: "
                        "add `task: <name>` with the task's fields")
    return config


def _yaml_spec(path: Path) -> str:
    """What to ask lm-eval for: a group file by its group name (lm-eval 0.4.13 cannot load a group by path;
    the file's folder is on the include path), a task file by its path."""
    group = _validate_yaml_path(path).get("group")
    return group if isinstance(group, str) else str(path.resolve())


def build_task_manager(names: list[str]) -> TaskManager:
    """Build an lm-eval ``TaskManager`` that can find every requested task.

    Args:
        names: task names, group names, tags or YAML paths.

    Returns:
        A manager over the bundled tasks, the folders of any YAML paths, and lm-eval's own tasks only when
        some name is not bundled.
    """
    from lm_eval.tasks import TaskManager

    yaml_dirs = []
    for name in names:
        if name.endswith((".yaml", ".yml")):
            _validate_yaml_path(Path(name))
            yaml_dirs.append(str(Path(name).resolve().parent))
    bundled = set(bundled_task_names())
    needs_defaults = any(name not in bundled and not name.endswith((".yaml", ".yml")) for name in names)
    return TaskManager(include_path=[str(BUNDLED_TASKS_DIR), *yaml_dirs], include_defaults=needs_defaults)


def load_tasks(name: str, manager: TaskManager) -> LoadedTasks:
    """Instantiate the leaf tasks behind a task, group or tag name, or a YAML path.

    Args:
        name: what the user asked for.
        manager: a manager from :func:`build_task_manager`.

    Returns:
        The leaf tasks, with their datasets loaded.

    Raises:
        TaskError: unknown name (with the closest known names) or a task config lm-eval rejects.
        DatasetUnavailableError: the task's dataset cannot be read offline.
    """
    spec = _yaml_spec(Path(name)) if name.endswith((".yaml", ".yml")) else name
    if not name.endswith((".yaml", ".yml")) and name not in manager.all_tasks:
        close = difflib.get_close_matches(name, manager.all_tasks, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "run `evalkit tasks` to list the bundled tasks"
        raise TaskError(f"unknown task or suite {name!r}: {hint}")
    try:
        loaded = manager.load([spec])
    except Exception as error:
        raise _translate_load_error(name, error) from error
    if not loaded["tasks"]:
        raise TaskError(f"{name!r} names no runnable task: check the task or group definition")
    return LoadedTasks(requested=name, tasks=dict(loaded["tasks"]), groups=dict(loaded["groups"]))


def load_all(names: list[str], manager: TaskManager) -> list[LoadedTasks]:
    """Load every requested name, reporting all tasks whose datasets are missing in one error.

    Args:
        names: what the user asked for, in order.
        manager: a manager from :func:`build_task_manager`.

    Returns:
        One :class:`LoadedTasks` per name.

    Raises:
        TaskError: the first unknown or broken task.
        DatasetUnavailableError: naming every task whose dataset cannot be read here.
    """
    loaded, missing = [], []
    with quiet_libraries():
        for name in names:
            try:
                loaded.append(load_tasks(name, manager))
            except DatasetUnavailableError:
                missing.append(name)
    if missing:
        raise DatasetUnavailableError(
            f"datasets of {len(missing)} task(s) cannot be read here: {', '.join(map(repr, missing))}; download them "
            "by running the same command once on a connected machine (they are cached under ~/.cache/huggingface "
            "and then work with HF_DATASETS_OFFLINE=1), or use the bundled offline tasks (`evalkit tasks`)"
        )
    return loaded


def _translate_load_error(name: str, error: Exception) -> Exception:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    if any(type(item).__name__ in _DATASET_ERRORS for item in chain):
        return DatasetUnavailableError(
            f"the dataset of task {name!r} cannot be read here ({type(chain[-1]).__name__}): download it on a "
            "connected machine with `datasets` (it is cached under ~/.cache/huggingface) and set "
            "HF_DATASETS_OFFLINE=1, or use the bundled offline tasks (`evalkit tasks`)"
        )
    return TaskError(f"task {name!r} could not be built ({type(error).__name__}: {str(error).splitlines()[0]}): "
                     "fix the task definition")
