"""lm-evaluation-harness on a registered Forge model: `lm_eval --model forge --model_args
model=NAME:VERSION`, or `forge eval NAME --tasks ...`, which runs simple_evaluate over the task
folders a company keeps.

The model class answers the harness's three requests with likelihood.py, the code `forge eval
--questions` scores with, so a task built from the same questions reports the same accuracy. Every
text a plain task sends starts after the document start (the end of text Forge's models saw
between documents); a chat prompt starts as its template starts it. Generation is always greedy.

Nothing here downloads: forge_core turns the Hugging Face hub offline on import, so a task's
dataset must be a local file (`dataset_path: json` and `data_files`) or already in the local cache.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

from forge_core.evaluation.likelihood import (
    continuation_logprobs,
    document_start,
    encode,
    encode_pair,
    greedy_continuations,
    stop_ids,
)

DEFAULT_MAX_GEN_TOKS = 256  # the harness's own default for a generate_until task that sets none


class HarnessError(ValueError):
    """Tasks that cannot run: the message names them and where tasks are looked for."""


@register_model("forge")
class ForgeLM(LM):
    """A registered Forge model version (`model=NAME[:VERSION|@ALIAS]`) under the harness; the
    MLflow store is the one this process tracks to, or `workspace=DIR`'s."""

    def __init__(
        self,
        model: str,
        workspace: str | None = None,
        chat: bool = False,
        batch_size: int | str | None = 8,
        **_: Any,  # max_batch_size, device: the harness passes them to every model class
    ) -> None:
        super().__init__()
        from forge_core.chat.spec import spec_of_loaded
        from forge_core.interop.bases import load_version

        if workspace:
            from forge_core.io.workspace import Workspace
            from forge_core.lineage.tracking import use_workspace_tracking

            use_workspace_tracking(Workspace(workspace))
        self.version, self.loaded, _tags, _carried = load_version(model)
        self.model, self.tokenizer = self.loaded.model, self.loaded.tokenizer
        self.spec = spec_of_loaded(self.loaded)
        self.chat = bool(chat)
        self.batch_size = batch_size if isinstance(batch_size, int) and batch_size > 0 else 8
        self.start = document_start(self.loaded)

    def _first(self, context: str) -> int | None:
        """The document start before a plain text, or before nothing at all."""
        return self.start if not self.chat or not context else None

    def _prompt(self, context: str) -> list[int]:
        first = self._first(context)
        return ([first] if first is not None else []) + encode(self.tokenizer, context)

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        pairs = [encode_pair(self.tokenizer, ctx, cont, self._first(ctx)) for ctx, cont in (r.args for r in requests)]
        return continuation_logprobs(self.model, pairs, self.batch_size)

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        """A whole text's log-likelihood in windows of the context length, every token scored once."""
        windows, owner = [], []
        for n, (text,) in enumerate(r.args for r in requests):
            rolling = get_rolling_token_windows(
                token_list=encode(self.tokenizer, text),
                prefix_token=self.start,
                max_seq_len=self.model.cfg.block_size,
                context_len=1,
            )
            for pair in map(make_disjoint_window, rolling):
                windows.append(pair)
                owner.append(n)
        totals = [0.0] * len(requests)
        for n, (logprob, _) in zip(owner, continuation_logprobs(self.model, windows, self.batch_size), strict=True):
            totals[n] += logprob
        return totals

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Greedy replies, cut at the first of the task's `until` strings; requests sharing their
        generation settings are generated in batches."""
        groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
        for n, (_, kwargs) in enumerate(r.args for r in requests):
            until = kwargs.get("until") or []
            until = (until,) if isinstance(until, str) else tuple(until)
            groups.setdefault((until, int(kwargs.get("max_gen_toks", DEFAULT_MAX_GEN_TOKS))), []).append(n)
        out = [""] * len(requests)
        stops = stop_ids(self.loaded, self.spec if self.chat else None)
        for (until, max_new), members in groups.items():
            prompts = [self._prompt(requests[n].args[0]) for n in members]
            replies = greedy_continuations(self.model, prompts, max_new, stops, self.batch_size)
            for n, tokens in zip(members, replies, strict=True):
                text = self.tokenizer.decode(tokens)
                for stop in until:
                    text = text.split(stop, 1)[0] if stop else text
                out[n] = text
        return out

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        from forge_core.chat.template import render

        return render(self.spec.template, chat_history, self.spec.specials, add_generation_prompt=add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return f"{self.version.name}:{self.version.version}"

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return self.spec.template


def task_manager(tasks: list[str], include_paths: list[Path]) -> Any:
    """The harness's index of tasks: only the given folders when they hold every task asked for
    (scanning the thousands built into the harness takes seconds), else those and the built-in ones."""
    from lm_eval.tasks import TaskManager

    for path in include_paths:
        if not path.is_dir():
            raise HarnessError(f"--include-path {path}: not a folder of task YAML files")
    folders = [str(p) for p in include_paths]
    manager = TaskManager(include_path=folders, include_defaults=False) if folders else None
    if manager is None or not all(t in manager.all_tasks or Path(t).is_file() for t in tasks):
        manager = TaskManager(include_path=folders or None, include_defaults=True)
    unknown = [t for t in tasks if t not in manager.all_tasks and not Path(t).is_file()]
    if unknown:
        where = f"in {', '.join(folders)} or " if folders else ""
        names = ", ".join(map(repr, unknown))
        raise HarnessError(f"unknown task {names}: not {where}among the harness's built-in tasks")
    return manager


def run_tasks(
    ref: str,
    tasks: list[str],
    include_paths: list[Path],
    limit: int | None = None,
    chat: bool = False,
    batch_size: int = 8,
) -> dict[str, Any]:
    """simple_evaluate's results for the tasks, on the registered version `ref` of the MLflow
    store this process tracks to."""
    from lm_eval import simple_evaluate

    logging.getLogger("lm_eval").setLevel(logging.WARNING)  # its INFO lines would bury the table
    manager = task_manager(tasks, include_paths)
    try:
        return simple_evaluate(
            model="forge",
            model_args={"model": ref, "chat": chat},
            tasks=tasks,
            task_manager=manager,
            limit=limit,
            batch_size=batch_size,
            apply_chat_template=chat,
            log_samples=False,
        )
    except ConnectionError as e:  # datasets' answer, offline, to a dataset it would have downloaded
        raise HarnessError(
            f"{e}: Forge does not download; put the task's data on this machine (dataset_path: json, "
            "dataset_kwargs: {data_files: {test: FILE}}) or in the local Hugging Face cache"
        ) from None


def format_results(results: dict[str, Any]) -> str:
    """The harness's own table of results (and of groups, when the tasks form some)."""
    from lm_eval.utils import make_table

    table = make_table(results)
    return table + ("\n" + make_table(results, "groups") if results.get("groups") else "")
