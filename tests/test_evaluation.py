"""`forge eval --questions` and `forge eval --tasks` on a small model that learned six facts of a
staff handbook (trained here, in seconds; nothing downloaded), asked as plain questions and in its
chat template, with some questions labelled wrong on purpose: the accuracy is known before the
model is asked, and the harness must report the same numbers as Forge's own scorer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from conftest import EGRESS_LOG
from test_cli import forge
from typer.testing import CliRunner

from forge.cli import app
from forge_core.evaluation.questions import QuestionsError, exact_match, normalize_answer, read_questions

FACTS = [
    ("Which warehouse ships the spare sensors?", "Lyon"),
    ("Who signs the night shift rota?", "Marta Jensen"),
    ("How many days of notice does a holiday request need?", "ten working days"),
    ("What colour is the visitor badge?", "orange"),
    ("Which form reports a near miss?", "the blue incident form"),
    ("Where are the fire blankets kept?", "under the kitchen sink"),
]
ANSWERS = [a for _, a in FACTS]

# Multiple choice: the learned answer among the others' answers; the last one labelled wrong.
MULTIPLE_CHOICE = [
    {"id": f"mc{i}", "category": "safety" if i >= 4 else "office", "question": q}
    | {"choices": [a, *[b for b in ANSWERS if b != a][i % 3 : i % 3 + 2]]}
    for i, (q, a) in enumerate(FACTS)
]
for item in MULTIPLE_CHOICE[:4]:
    item["answer"] = 0
MULTIPLE_CHOICE[4]["answer"] = MULTIPLE_CHOICE[4]["choices"][0]  # by its text
MULTIPLE_CHOICE[5]["answer"] = 2  # mislabelled: the model will pick choice 0
# Short answers, as people write them (case, articles, punctuation); the last two labelled wrong.
SHORT = [
    {"id": "sa0", "category": "office", "question": FACTS[0][0], "answer": ["LYON."]},
    {"id": "sa1", "category": "office", "question": FACTS[1][0], "answer": ["M. Jensen", "marta jensen"]},
    {"id": "sa2", "category": "office", "question": FACTS[2][0], "answer": ["Ten working days!"]},
    {"id": "sa3", "category": "office", "question": FACTS[3][0], "answer": ["An orange"]},
    {"id": "sa4", "category": "safety", "question": FACTS[4][0], "answer": ["the red incident form"]},
    {"id": "sa5", "category": "safety", "question": FACTS[5][0], "answer": ["in the car park"]},
]
EXPECTED = {"mc0", "mc1", "mc2", "mc3", "mc4", "sa0", "sa1", "sa2", "sa3"}  # the questions the model gets right


def cli(*args: str) -> dict:
    """The --json result, with the summary printed above it as "printed"."""
    out = CliRunner().invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    *printed, last = out.output.strip().splitlines()
    return json.loads(last) | {"printed": "\n".join(printed)}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def train_on_facts(tokenizer, spec) -> torch.nn.Module:
    """Each fact as a plain document and as a chat turn, learned by heart (loss near zero)."""
    from forge_core.chat.template import render
    from forge_core.model.architecture import GPTConfig
    from forge_core.model.gpt import GPT

    eot = tokenizer.token_to_id("<|endoftext|>")
    docs = []
    for q, a in FACTS:
        docs.append([eot, *tokenizer.encode(f"Question: {q}\nAnswer: {a}\n").ids, eot])
        turns = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        docs.append(tokenizer.encode(render(spec.template, turns, spec.specials)).ids)
    width = max(map(len, docs)) - 1
    x = torch.zeros(len(docs), width, dtype=torch.long)
    y = torch.full((len(docs), width), -1)
    for i, d in enumerate(docs):
        x[i, : len(d) - 1], y[i, : len(d) - 1] = torch.tensor(d[:-1]), torch.tensor(d[1:])
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=tokenizer.get_vocab_size(), block_size=128, n_layer=2, n_head=2, n_embd=64))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains faster on one thread than on two shared ones
    try:
        for _ in range(150):
            _, loss = model(x, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    assert float(loss.detach()) < 0.2
    return model.eval()


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> dict:
    """The model registered twice in a fresh workspace: `desk`, a plain model, and `desk-chat`,
    the same weights recorded as fine-tuned on conversations (its bundle carries the chat spec)."""
    import mlflow
    from conftest import SAMPLES

    from forge_core.chat.spec import chat_spec
    from forge_core.export.bundle import save_bundle
    from forge_core.export.pyfunc import log_pyfunc
    from forge_core.io.workspace import Workspace
    from forge_core.lineage.tracking import ensure_experiment, use_workspace_tracking
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    home = tmp_path_factory.mktemp("evaluation")
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((SAMPLES / "corpus").rglob("*.md"))]
    tokenizer = train_tokenizer(texts, TokenizeConfig(vocab_size=512))
    spec = chat_spec(tokenizer, None, None)
    model = train_on_facts(tokenizer, spec)
    ws = Workspace(str(home / "ws"))
    use_workspace_tracking(ws)
    experiment = ensure_experiment(ws, "forge")
    save_bundle(model, tokenizer.to_str(), home / "plain")
    save_bundle(model, tokenizer.to_str(), home / "chat", {"chat": spec.to_dict()})
    with mlflow.start_run(experiment_id=experiment):
        log_pyfunc(home / "plain", "desk", ["Question:"])
        log_pyfunc(home / "chat", "desk-chat", ["Question:"])
    questions = write_jsonl(home / "questions.jsonl", MULTIPLE_CHOICE + SHORT)
    return {"home": home, "ws": str(home / "ws"), "model": model, "tokenizer": tokenizer, "questions": questions}


# Normalization and the question file, by hand -----------------------------------------------------


@pytest.mark.parametrize(
    "reply, answers, right",
    [
        ("  Lyon.", ["lyon"], True),
        ("The orange!", ["an orange"], True),
        ("« Marta Jensen »", ["marta jensen"], True),  # any Unicode punctuation, not only ASCII
        ("Marta  \n Jensen", ["Marta Jensen"], True),
        ("Lyons", ["Lyon"], False),
        ("theory", ["ory"], False),  # articles are whole words
        ("ten working-days", ["ten working days"], False),  # SQuAD drops the hyphen: "workingdays"
        ("Lyon", ["Paris", "Lyon"], True),
    ],
)
def test_exact_match_ignores_case_punctuation_articles_and_spacing_only(reply, answers, right):
    assert exact_match(reply, answers) is right


def test_normalize_answer_as_squad_does():
    assert normalize_answer("  The Quick, brown fox; an apple.  ") == "quick brown fox apple"


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"question": "Where?", "answer": "Lyon"', "not valid JSON"),
        ('["Where?", "Lyon"]', "expected an object"),
        ('{"question": "Where?", "choice": ["a", "b"], "answer": 0}', "unknown field 'choice'"),
        ('{"question": "Where?"}', '"answer" is missing'),
        ('{"question": "", "answer": "Lyon"}', '"question" must be a non-empty string'),
        ('{"question": "Where?", "choices": ["Lyon", "Paris"], "answer": 2}', "not the index of a choice (0 to 1)"),
        ('{"question": "Where?", "choices": ["Lyon", "Paris"], "answer": "Rome"}', "'Rome' is not one of the choices"),
        ('{"question": "Where?", "choices": ["Lyon"], "answer": 0}', "at least two non-empty strings"),
        ('{"question": "Where?", "answer": 3}', "non-empty string or list of strings"),
        ('{"id": "q1", "question": "Where?", "answer": "Lyon"}', "id 'q1' was already used on line 1"),
    ],
)
def test_a_malformed_line_is_an_error_naming_the_file_and_its_line(tmp_path, line, problem):
    path = tmp_path / "questions.jsonl"
    path.write_text('{"id": "q1", "question": "Which city?", "answer": "Lyon"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(QuestionsError) as e:
        read_questions(path)
    assert str(e.value).startswith(f"{path}, line 3: ") and problem in str(e.value)


def test_forge_eval_reports_a_malformed_line_without_a_traceback(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text('{"question": "Which city?", "answer": "Lyon"}\n{"question": "Where?"\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["eval", "desk", "--questions", str(path), "--workspace", str(tmp_path / "ws")])
    assert out.exit_code == 1 and f"{path}, line 2: not valid JSON" in out.output
    assert not (tmp_path / "ws").exists()  # refused before any workspace was opened


@pytest.mark.parametrize(
    "options, problem",
    [
        ([], "choose one of --text FILE, --questions FILE.jsonl or --tasks TASK[,TASK]"),
        (["--text", "a.txt", "--questions", "q.jsonl"], "choose one of"),
        (["--questions", "q.jsonl", "--limit", "3"], "--include-path and --limit go with --tasks"),
        (["--text", "a.txt", "--chat"], "--chat and --no-chat go with --questions or --tasks"),
    ],
)
def test_forge_eval_takes_exactly_one_of_text_questions_and_tasks(options, problem):
    out = CliRunner().invoke(app, ["eval", "desk", *options])
    assert out.exit_code == 1 and problem in out.output


# Scoring on the model -------------------------------------------------------------------------------


def independent_logprob(desk: dict, context: list[int], continuation: list[int]) -> float:
    """One sequence, no batch, no padding: the number the batched scorer must reproduce."""
    ids = torch.tensor([context + continuation])
    with torch.no_grad():
        logits, _ = desk["model"](ids[:, :-1])
    logp = logits[0, len(context) - 1 :].float().log_softmax(-1)
    return float(logp.gather(-1, torch.tensor(continuation)[:, None]).sum())


def test_the_model_gets_right_exactly_the_questions_it_learned_and_the_scorer_agrees(desk):
    report = cli("eval", "desk", "--questions", str(desk["questions"]), "--workspace", desk["ws"])
    right = {q["id"] for q in report["per_question"] if q["correct"]}
    assert right == EXPECTED
    assert report["chat_template"] is None
    assert (report["questions"], report["correct"]) == (12, 9) and report["accuracy"] == pytest.approx(0.75)
    assert report["kinds"]["multiple_choice"] == {
        "questions": 6,
        "correct": 5,
        "accuracy": pytest.approx(5 / 6),
        "accuracy_norm": pytest.approx(5 / 6),
    }
    assert report["kinds"]["short_answer"]["accuracy"] == pytest.approx(4 / 6)
    assert report["categories"]["office"] == {"questions": 8, "correct": 8, "accuracy": 1.0}
    assert report["categories"]["safety"] == {"questions": 4, "correct": 1, "accuracy": 0.25}
    assert "wrong: mc5 (line 6), sa4 (line 11), sa5 (line 12)" in report["printed"]

    tokenizer, eot = desk["tokenizer"], desk["tokenizer"].token_to_id("<|endoftext|>")
    for item, scored in zip(MULTIPLE_CHOICE, report["per_question"][:6], strict=True):
        prompt = f"Question: {item['question']}\nAnswer:"
        context = [eot, *tokenizer.encode(prompt).ids]  # a plain prompt starts a document
        replies = [tokenizer.encode(f"{prompt} {c}").ids[len(context) - 1 :] for c in item["choices"]]
        assert scored["logprobs"] == pytest.approx([independent_logprob(desk, context, r) for r in replies], abs=1e-3)
        assert scored["predicted"] == 0  # the learned answer, wherever the label points
    for item, scored in zip(SHORT, report["per_question"][6:], strict=True):
        assert scored["reply"].strip() == dict(FACTS)[item["question"]]


def test_a_chat_model_is_asked_in_its_template_unless_told_not_to(desk):
    chat = cli("eval", "desk-chat", "--questions", str(desk["questions"]), "--workspace", desk["ws"])
    assert chat["chat_template"] == "Forge's default template"
    assert {q["id"] for q in chat["per_question"] if q["correct"]} == EXPECTED
    replies = [q["reply"] for q in chat["per_question"] if q["kind"] == "short_answer"]
    assert replies == ANSWERS  # the assistant's turn, ended at its end of turn: no leading space, no newline

    from forge_core.chat.spec import chat_spec
    from forge_core.chat.template import render

    spec, tokenizer = chat_spec(desk["tokenizer"], None, None), desk["tokenizer"]
    q, choices = MULTIPLE_CHOICE[0]["question"], MULTIPLE_CHOICE[0]["choices"]
    prompt = render(spec.template, [{"role": "user", "content": q}], spec.specials, add_generation_prompt=True)
    context = tokenizer.encode(prompt.rstrip()).ids  # the prompt's trailing newline goes with the reply
    by_hand = [independent_logprob(desk, context, tokenizer.encode(prompt + c).ids[len(context) :]) for c in choices]
    assert chat["per_question"][0]["logprobs"] == pytest.approx(by_hand, abs=1e-3)

    plain = cli("eval", "desk-chat", "--questions", str(desk["questions"]), "--no-chat", "--workspace", desk["ws"])
    assert plain["chat_template"] is None
    assert [q["reply"] for q in plain["per_question"] if q["kind"] == "short_answer"] == [" " + a for a in ANSWERS]


# lm-evaluation-harness ------------------------------------------------------------------------------

MC_TASK = """task: desk_choices
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
  - metric: acc_norm
"""
SHORT_TASK = """task: desk_replies
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer[0]}}}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 32
  do_sample: false
process_results: !function desk_scoring.process_results
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
"""
SCORING = """from forge_core.evaluation.questions import exact_match


def process_results(doc, results):
    return {"exact_match": float(exact_match(results[0], doc["answer"]))}
"""


def test_the_harness_reports_what_forge_eval_questions_computes_offline(desk):
    home = desk["home"]
    tasks = home / "tasks"
    tasks.mkdir()
    mc = [dict(item) for item in MULTIPLE_CHOICE]
    for item in mc:  # the harness's doc_to_target wants the index
        if isinstance(item["answer"], str):
            item["answer"] = item["choices"].index(item["answer"])
    (tasks / "choices.yaml").write_text(MC_TASK.format(data=write_jsonl(tasks / "choices.jsonl", mc)))
    (tasks / "replies.yaml").write_text(SHORT_TASK.format(data=write_jsonl(tasks / "replies.jsonl", SHORT)))
    (tasks / "desk_scoring.py").write_text(SCORING)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(home / "hf")}
    before = EGRESS_LOG.read_text() if EGRESS_LOG.exists() else ""
    done = forge(
        "eval", "desk", "--tasks", "desk_choices,desk_replies", "--include-path", str(tasks),
        "--workspace", desk["ws"], "--json", cwd=home, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert (EGRESS_LOG.read_text() if EGRESS_LOG.exists() else "") == before  # nothing tried to leave
    harness = json.loads(done.stdout.strip().splitlines()[-1])["results"]
    assert "desk_choices" in done.stdout and "acc_norm" in done.stdout  # the harness's table

    ours = cli("eval", "desk", "--questions", str(desk["questions"]), "--workspace", desk["ws"])["kinds"]
    assert harness["desk_choices"]["acc,none"] == ours["multiple_choice"]["accuracy"] == pytest.approx(5 / 6)
    assert harness["desk_choices"]["acc_norm,none"] == ours["multiple_choice"]["accuracy_norm"]
    assert harness["desk_replies"]["exact_match,none"] == ours["short_answer"]["accuracy"] == pytest.approx(4 / 6)


def test_tasks_from_a_folder_that_is_not_there_are_a_clear_error(desk, tmp_path):
    out = CliRunner().invoke(
        app, ["eval", "desk", "--tasks", "x", "--include-path", str(tmp_path / "nope"), "--workspace", desk["ws"]]
    )
    assert out.exit_code == 1 and f"--include-path {tmp_path / 'nope'}: not a folder" in out.output
