"""One thread owns the model and decodes every request; requests that are waiting when it looks are
decoded together as one batch.

Why a single owner: a model's forward pass is not something two threads should run at once (on
CPU they would fight for the same cores, on a GPU for the same memory), and a batch of 8 rows
costs little more per step than one row, so gathering waiting requests is where a server's
throughput comes from. The batch is static: a request that arrives while one is being decoded
waits for the next (admitting it mid-batch would need its prompt prefilled into the running
cache). Each row finishes on its own (a stop token, a stop text, its max_tokens) and is sampled
with its own temperature, top_p and seed; the batch ends when every row has.

Stop texts are found in the decoded text, not in tokens (a stop string may span tokens or end
inside one): text is handed out only once it cannot be the start of a stop string, and never
with a half-decoded character at its end.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from forge_core.model.gpt import GPT, sample

REPLACEMENT = "\ufffd"  # what a byte-level BPE decodes the first bytes of an unfinished character to


@dataclass(frozen=True)
class Sampling:
    """How one request is decoded: OpenAI's parameters, plus the stop tokens of its model."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()  # stop texts, not returned
    stop_ids: frozenset[int] = frozenset()  # stop tokens (end of text, end of turn), not returned


@dataclass(frozen=True)
class Delta:
    """New text for one request; the last one has a finish_reason ("stop", "length") or an error."""

    text: str
    finish_reason: str | None = None
    completion_tokens: int = 0
    error: str | None = None

    @property
    def last(self) -> bool:
        return self.finish_reason is not None or self.error is not None


@dataclass
class Job:
    prompt: list[int]
    sampling: Sampling
    emit: Callable[[Delta], None]
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """The client went away: its row stops at the next step."""
        self.cancelled.set()


class Row:
    """One request's progress through a batch: its tokens, its text and what was handed out."""

    def __init__(self, job: Job, decode: Callable[[list[int]], str]):
        self.job, self.decode = job, decode
        self.tokens: list[int] = []
        self.sent = 0  # characters of the decoded text already emitted
        self.finished = job.cancelled.is_set()
        s = job.sampling
        self.generator = torch.Generator().manual_seed(s.seed) if s.seed is not None else None

    def pick(self, logits: torch.Tensor) -> torch.Tensor:
        """This row's next token from its logits (vocab,)."""
        if self.finished:  # its token is thrown away; the cheapest choice will do
            return logits.argmax()
        s = self.job.sampling
        return sample(logits[None].cpu(), s.temperature, None, s.top_p, self.generator)[0].to(logits.device)

    def step(self, token: int) -> None:
        s = self.job.sampling
        if self.job.cancelled.is_set():
            self.finished = True
            return
        if token in s.stop_ids:
            return self._finish(self.decode(self.tokens), "stop", generated=len(self.tokens) + 1)
        self.tokens.append(token)
        text = self.decode(self.tokens)
        hits = [i for i in (text.find(x, max(0, self.sent)) for x in s.stop) if i >= 0]
        if hits:
            return self._finish(text[: min(hits)], "stop")
        if len(self.tokens) >= s.max_tokens:
            return self._finish(text, "length")
        safe = len(text.rstrip(REPLACEMENT)) - held_back(text, s.stop)
        if safe > self.sent:
            self._emit(Delta(text[self.sent : safe]))
            self.sent = safe

    def fail(self, message: str) -> None:
        self.finished = True
        self._emit(Delta("", error=message))

    def _finish(self, text: str, reason: str, generated: int | None = None) -> None:
        self.finished = True
        count = generated if generated is not None else len(self.tokens)
        self._emit(Delta(text[self.sent :], reason, completion_tokens=count))

    def _emit(self, delta: Delta) -> None:
        try:
            self.job.emit(delta)
        except Exception:  # the receiver is gone (its event loop closed): nobody is listening
            self.job.cancel()
            self.finished = True


def held_back(text: str, stops: tuple[str, ...]) -> int:
    """Characters at the end of text that could be the start of a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class Engine:
    """The model's one worker thread and its queue of jobs."""

    def __init__(
        self, model: GPT, decode: Callable[[list[int]], str], max_batch: int = 16, gather_s: float = 0.005
    ) -> None:
        self.model, self.decode = model, decode
        self.max_batch, self.gather_s = max_batch, gather_s  # gather_s: how long a first request waits for company
        self.batches = 0  # batches decoded, and the largest, for /health and the benchmark
        self.widest = 0
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._work, name="forge-serve-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, prompt: list[int], sampling: Sampling, emit: Callable[[Delta], None]) -> Job:
        """Queue a request; `emit` is called from the engine thread with each Delta, the last one
        marked by its finish_reason or error."""
        if not prompt:
            raise ValueError("a prompt needs at least one token")
        job = Job(prompt, sampling, emit)
        self._queue.put(job)
        return job

    def close(self, timeout: float = 10.0) -> None:
        """Stop after the current step: rows being decoded end with an error, queued ones too."""
        self._stopping.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                Row(job, self.decode).fail("the server is shutting down")

    def _work(self) -> None:
        while not self._stopping.is_set():
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            deadline = time.monotonic() + self.gather_s
            while len(jobs) < self.max_batch:
                try:
                    job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:
                    self._stopping.set()
                    break
                jobs.append(job)
            self._run(jobs)

    def _run(self, jobs: list[Job]) -> None:
        rows = [Row(job, self.decode) for job in jobs]
        self.batches, self.widest = self.batches + 1, max(self.widest, len(rows))

        def pick(logits: torch.Tensor) -> torch.Tensor:
            return torch.stack([row.pick(logits[i]) for i, row in enumerate(rows)])

        steps = max(job.sampling.max_tokens for job in jobs)
        try:
            for nxt in self.model.decode_steps([job.prompt for job in jobs], steps, pick):
                for row, token in zip(rows, nxt.tolist(), strict=True):
                    if not row.finished:
                        row.step(token)
                if all(row.finished for row in rows):
                    break
                if self._stopping.is_set():
                    raise RuntimeError("the server is shutting down")
        except Exception as e:  # one bad batch must not take the server down; its clients hear why
            for row in rows:
                if not row.finished:
                    row.fail(f"generation failed: {e}")
