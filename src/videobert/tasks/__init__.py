"""videobert.tasks: what a pretrained VideoBERT does, each task in the one shape of ``base``.

Registered tasks (``task_names()``): ``zero-shot`` (verb/noun from a template), ``classify``
(video classification with k-fold CV), ``retrieve`` (text<->video by alignment score), ``caption``,
``summarize``, ``forecast`` (next visual words) and ``text-to-video``. Each is a plain function
``run(model, tokenizer, inputs: TaskInputs, cfg) -> TaskReport`` plus a CLI sub-command; ``run_task``
runs one on a work directory and writes ``reports/<task>.json``. Adding a task: see
docs/ARCHITECTURE.md ("Adding a task").
"""

from videobert.tasks.base import (
    Task,
    TaskConfig,
    TaskInputs,
    TaskReport,
    get_task,
    load_task_inputs,
    register_task,
    run_task,
    task_names,
    write_report,
)

__all__ = [
    "Task",
    "TaskConfig",
    "TaskInputs",
    "TaskReport",
    "get_task",
    "load_task_inputs",
    "register_task",
    "run_task",
    "task_names",
    "write_report",
]
