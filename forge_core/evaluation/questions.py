"""A company's own questions, one JSON object a line, scored on a registered model.

Multiple choice ({"question", "choices", "answer": index or the right choice's text}) is scored by
log-likelihood, as lm-evaluation-harness scores its multiple-choice tasks: the model picks the
choice whose tokens are likeliest after the question (accuracy), or likeliest per character of the
choice (accuracy_norm, the harness's acc_norm), so a long right answer is not beaten by a short
wrong one only for being short. Short answers ({"question", "answer": text or list of texts}) are
the model's greedy reply, compared after SQuAD's normalization. Optional "id" and "category"
group and name the results.

With a chat template the question is the user's turn and the choice or the answer the assistant's
reply; without one the prompt is "Question: ...\\nAnswer:" and the choice follows after a space
(the harness's default target delimiter), and a reply ends at its first newline.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forge_core.evaluation.likelihood import (
    continuation_logprobs,
    document_start,
    encode,
    encode_pair,
    greedy_continuations,
    stop_ids,
)

FIELDS = {"id", "category", "question", "choices", "answer"}
MAX_NEW_TOKENS = 32  # a short answer is a few words; more would only be cut by the comparison
KINDS = ("multiple_choice", "short_answer")
SHOWN = 10  # wrong questions named in the summary; --json has them all


class QuestionsError(ValueError):
    """A question file that cannot be scored: the message names the file, the line and the fix."""


@dataclass(frozen=True)
class Question:
    line: int
    id: str
    question: str
    category: str | None
    choices: tuple[str, ...] | None  # None: a short answer
    answers: tuple[str, ...]  # the accepted replies; the right choice's text for multiple choice
    gold: int | None = None  # index of the right choice

    @property
    def kind(self) -> str:
        return "multiple_choice" if self.choices is not None else "short_answer"


def read_questions(path: Path) -> list[Question]:
    """Every question of the file, or a QuestionsError at the first line that is not one."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise QuestionsError(f"{path}: cannot read as UTF-8 text ({e})") from None
    out: list[Question] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            q = parse_question(line, n)
        except ValueError as e:
            raise QuestionsError(f"{path}, line {n}: {e}") from None
        if q.id in seen:
            raise QuestionsError(f"{path}, line {n}: id {q.id!r} was already used on line {seen[q.id]}")
        seen[q.id] = n
        out.append(q)
    if not out:
        raise QuestionsError(f"{path}: no questions (one JSON object a line)")
    return out


def parse_question(line: str, n: int) -> Question:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(record, dict):
        raise ValueError('expected an object such as {"question": "...", "answer": "..."}')
    unknown = sorted(set(record) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {', '.join(map(repr, unknown))}: the fields are {', '.join(sorted(FIELDS))}")
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"question" must be a non-empty string')
    if "answer" not in record:
        raise ValueError('"answer" is missing')
    category = record.get("category")
    if category is not None and not isinstance(category, str):
        raise ValueError('"category" must be a string')
    qid = record.get("id", f"line {n}")
    if isinstance(qid, bool) or not isinstance(qid, str | int):
        raise ValueError('"id" must be a string or a number')
    answer = record["answer"]
    if "choices" not in record:
        answers = [answer] if isinstance(answer, str) else answer
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
            raise ValueError('"answer" must be a non-empty string or list of strings (or add "choices")')
        return Question(n, str(qid), text, category, None, tuple(answers))
    choices = record["choices"]
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
        raise ValueError('"choices" must be a list of at least two non-empty strings')
    if isinstance(answer, int) and not isinstance(answer, bool):
        if not 0 <= answer < len(choices):
            raise ValueError(f'"answer" {answer} is not the index of a choice (0 to {len(choices) - 1})')
        gold = answer
    elif isinstance(answer, str):
        if answer not in choices:
            raise ValueError(f'"answer" {answer!r} is not one of the choices (or give its index, from 0)')
        gold = choices.index(answer)
    else:
        raise ValueError('"answer" must be the index of the right choice (from 0) or its text')
    return Question(n, str(qid), text, category, tuple(choices), (choices[gold],), gold)


def normalize_answer(text: str) -> str:
    """SQuAD's normalize_answer: lower case, no punctuation, no English articles, single spaces.
    Punctuation is any Unicode punctuation, so « » and ’ go as well as ASCII marks."""
    text = "".join(ch for ch in text.lower() if not unicodedata.category(ch).startswith("P"))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(reply: str, answers: tuple[str, ...] | list[str]) -> bool:
    return normalize_answer(reply) in {normalize_answer(a) for a in answers}


def chat_tuned(loaded: Any) -> bool:
    """Whether a version was fine-tuned on conversations (its bundle records a chat spec): then
    it answers best when asked in its chat template."""
    config = getattr(loaded, "artifacts", {}).get("config")
    if not config:
        return False
    return bool(json.loads(Path(config).read_text(encoding="utf-8")).get("forge", {}).get("chat"))


def question_context(question: str, spec: Any | None) -> str:
    """What the model reads before its answer: a user turn and the assistant's prompt, or the
    plain "Question: ...\\nAnswer:"."""
    if spec is None:
        return f"Question: {question}\nAnswer:"
    from forge_core.chat.template import render

    return render(spec.template, [{"role": "user", "content": question}], spec.specials, add_generation_prompt=True)


def reply_of(text: str, chat: bool) -> str:
    """A plain prompt's answer ends at the end of its line; a chat reply at the end of its turn."""
    return text if chat else text.split("\n", 1)[0]


def score_questions(
    loaded: Any, questions: list[Question], spec: Any | None = None, batch_size: int = 8
) -> dict[str, Any]:
    """Accuracy overall, by kind and by category, and each question's result, of a registered
    version as its pyfunc loads it (model, tokenizer, eos_id); `spec` a ChatSpec for chat prompts,
    None for plain ones."""
    model, tokenizer = loaded.model, loaded.tokenizer
    first = None if spec is not None else document_start(loaded)
    contexts = [question_context(q.question, spec) for q in questions]
    choice_sets = [(i, q) for i, q in enumerate(questions) if q.choices is not None]
    pairs = [
        encode_pair(tokenizer, contexts[i], choice if spec is not None else " " + choice, first)
        for i, q in choice_sets
        for choice in q.choices or ()
    ]
    scores = iter(continuation_logprobs(model, pairs, batch_size))
    results: list[dict[str, Any]] = [{} for _ in questions]
    for i, q in choice_sets:
        logprobs = [next(scores)[0] for _ in q.choices or ()]
        per_char = [lp / len(c) for lp, c in zip(logprobs, q.choices or (), strict=True)]
        pick, pick_norm = logprobs.index(max(logprobs)), per_char.index(max(per_char))
        results[i] = {"predicted": pick, "predicted_norm": pick_norm, "gold": q.gold, "logprobs": logprobs}
        results[i] |= {"correct": pick == q.gold, "correct_norm": pick_norm == q.gold}
    short = [(i, q) for i, q in enumerate(questions) if q.choices is None]
    stops = stop_ids(loaded, spec)
    prompts = [([first] if first is not None else []) + encode(tokenizer, contexts[i]) for i, _ in short]
    replies = greedy_continuations(model, prompts, MAX_NEW_TOKENS, stops, batch_size) if short else []
    for (i, q), tokens in zip(short, replies, strict=True):
        reply = reply_of(tokenizer.decode(tokens), spec is not None)
        results[i] = {"reply": reply, "answers": list(q.answers), "correct": exact_match(reply, q.answers)}
    per_question = [
        {"id": q.id, "line": q.line, "kind": q.kind, "category": q.category} | r
        for q, r in zip(questions, results, strict=True)
    ]
    return summarize(per_question)


def tally(rows: list[dict[str, Any]], norm: bool = False) -> dict[str, Any]:
    """Questions, right answers and accuracy; with norm, the per-character accuracy of multiple
    choice too (a short answer has no such variant, so it is not mixed into the overall figure)."""
    correct = sum(bool(r["correct"]) for r in rows)
    out = {"questions": len(rows), "correct": correct, "accuracy": correct / len(rows) if rows else 0.0}
    if norm and rows:
        out["accuracy_norm"] = sum(bool(r["correct_norm"]) for r in rows) / len(rows)
    return out


def summarize(per_question: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = {k: tally([r for r in per_question if r["kind"] == k], norm=k == "multiple_choice") for k in KINDS}
    categories = sorted({r["category"] for r in per_question if r["category"] is not None})
    return tally(per_question) | {
        "kinds": {k: v for k, v in kinds.items() if v["questions"]},
        "categories": {c: tally([r for r in per_question if r["category"] == c]) for c in categories},
        "per_question": per_question,
    }


def format_report(report: dict[str, Any]) -> str:
    """The summary a person reads: one line overall, one per kind, one per category, and which
    questions were answered wrong, so the file can be opened at them."""

    def line(label: str, t: dict[str, Any]) -> str:
        text = f"  {label:<24} {t['questions']:>5} questions  {100 * t['accuracy']:5.1f}% right ({t['correct']})"
        if "accuracy_norm" in t:
            text += f", {100 * t['accuracy_norm']:.1f}% length-normalized"
        return text

    lines = [line("all", report)]
    lines += [line(kind.replace("_", " "), t) for kind, t in report["kinds"].items()]
    lines += [line(f"category {c}", t) for c, t in report["categories"].items()]
    wrong = [
        f"{r['id']} (line {r['line']})" if r["id"] != f"line {r['line']}" else r["id"]
        for r in report["per_question"]
        if not r["correct"]
    ]
    if wrong:
        more = f" and {len(wrong) - SHOWN} more (--json lists every question)" if len(wrong) > SHOWN else ""
        lines.append(f"  wrong: {', '.join(wrong[:SHOWN])}{more}")
    return "\n".join(lines)
