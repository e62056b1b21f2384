"""`forge serve`, end to end: a small random Llama with a ChatML template (built with transformers,
nothing downloaded) imported with `forge base import`, served once for the module on a free
loopback port, and spoken to with the `openai` client as any application would; then the same
registered version served by `mlflow models serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from conftest import SAMPLES
from test_cli import forge

from forge_core.io.workspace import Workspace
from forge_core.lineage.tracking import use_workspace_tracking, workspace_store

transformers = pytest.importorskip("transformers")
openai = pytest.importorskip("openai")

NAME = "tiny-chat-served"
KEY = "test-key-0123456789"
BLOCK = 128
BIN = Path(sys.executable).parent
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
HELLO = [{"role": "user", "content": "How many days of leave do I get?"}]


def build_chat_model(folder: Path) -> None:
    """A 2-layer Llama with a context of 128 tokens, whose tokenizer has ChatML's special tokens
    and whose tokenizer_config.json carries the template, as Qwen2's checkpoints ship it."""
    from forge_core.tokenize import TokenizeConfig, train_tokenizer

    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((SAMPLES / "corpus").rglob("*.md"))]
    tokenizer = train_tokenizer(texts, TokenizeConfig(vocab_size=510))
    tokenizer.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    torch.manual_seed(3)
    config = transformers.LlamaConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=BLOCK,
        bos_token_id=0,
        eos_token_id=0,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": "<|im_end|>",
        "chat_template": CHATML,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    return env | extra


def start(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """A server in the background, its output in a file (a pipe nobody reads could fill and block it)."""
    with log.open("w") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def registered(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("serve")
    build_chat_model(home / "model")
    done = forge("base", "import", "model", "--name", NAME, "--workspace", "ws", "--json", cwd=home)
    assert done.returncode == 0, done.stderr[-4000:]
    version = json.loads(done.stdout.strip().splitlines()[-1])["version"]
    return {"home": home, "version": str(version), "ws": Workspace(str(home / "ws"))}


@pytest.fixture(scope="module")
def server(registered) -> Iterator[dict]:
    """`forge serve` with a key, started once for the module."""
    home, port = registered["home"], free_port()
    cmd = [str(BIN / "forge"), "serve", NAME, "--workspace", "ws", "--port", str(port)]
    cmd += ["--api-key-env", "FORGE_TEST_SERVE_KEY"]
    log = home / "forge-serve.log"
    proc = start(cmd, home, clean_env(FORGE_TEST_SERVE_KEY=KEY), log)
    try:
        wait_until_up(proc, f"http://127.0.0.1:{port}/health", log)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0, timeout=60)
        yield {"proc": proc, "port": port, "client": client, "id": f"{NAME}:{registered['version']}"}
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def reference(registered) -> dict:
    """The registered model loaded here, to say what greedy decoding must produce."""
    from forge_core.chat.spec import spec_of_loaded
    from forge_core.chat.template import render
    from forge_core.interop.bases import load_version

    use_workspace_tracking(registered["ws"])
    _, loaded, _, _ = load_version(NAME)
    spec = spec_of_loaded(loaded)
    stops = set(spec.stop_ids) | {loaded.eos_id}

    def greedy(ids: list[int], n: int) -> str:
        new = loaded.model.generate_batch([ids], n, temperature=0.0, stop_ids=stops)[0][len(ids) :]
        return loaded.tokenizer.decode([t for t in new if t not in stops])

    def encode(text: str) -> list[int]:
        return loaded.tokenizer.encode(text, add_special_tokens=False).ids

    def chat_ids(messages: list[dict]) -> list[int]:
        return encode(render(spec.template, messages, spec.specials, add_generation_prompt=True))

    return {"greedy": greedy, "encode": encode, "chat_ids": chat_ids, "loaded": loaded, "stops": stops}


def collect(engine, prompt: list[int], sampling) -> list:
    """Submit a job; return the list its deltas will land in."""
    out: list = []
    engine.submit(prompt, sampling, out.append)
    return out


def test_requests_waiting_together_are_decoded_as_one_batch_each_as_if_alone():
    from forge_core.model.architecture import GPTConfig
    from forge_core.model.gpt import GPT
    from forge_core.serve.engine import Engine, Sampling

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=61, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()
    engine = Engine(model, lambda ids: " ".join(map(str, ids)))
    asks = [([1, 2, 3], 8), ([4, 5, 6, 7, 8, 9, 10], 3), ([11], 5)]
    outs = [collect(engine, p, Sampling(max_tokens=n, temperature=0.0)) for p, n in asks]
    engine.start()  # all three were queued before the engine looked
    deadline = time.monotonic() + 30
    while not all(o and o[-1].last for o in outs) and time.monotonic() < deadline:
        time.sleep(0.01)
    engine.close()
    assert (engine.batches, engine.widest) == (1, 3)
    for (prompt, n), out in zip(asks, outs, strict=True):
        alone = model.generate_batch([prompt], n, temperature=0.0)[0][len(prompt) :]
        assert "".join(d.text for d in out) == " ".join(map(str, alone))
        assert (out[-1].finish_reason, out[-1].completion_tokens) == ("length", n)


def test_a_stop_text_spanning_tokens_is_cut_and_never_half_sent():
    from forge_core.serve.engine import Job, Row, Sampling

    pieces = ["ab", "cd", "ef", "gh"]  # token i decodes to pieces[i]
    sent: list = []
    job = Job([0], Sampling(max_tokens=10, stop=("de", "zz")), sent.append)
    row = Row(job, lambda ids: "".join(pieces[i] for i in ids))
    for token in range(4):
        if not row.finished:
            row.step(token)
    assert [d.text for d in sent] == ["ab", "c", ""]  # "d" waited: it could have begun "de"
    assert sent[-1].finish_reason == "stop"


def test_the_model_is_listed_as_name_colon_version_and_health_says_it_is_loaded(server):
    assert [m.id for m in server["client"].models.list().data] == [server["id"]]
    health = httpx.get(f"http://127.0.0.1:{server['port']}/health").json()
    assert health["status"] == "ok" and health["model"] == server["id"]


def test_greedy_completion_is_the_models_own_greedy_generation_and_counts_usage(server, reference):
    prompt = "The leave policy says"
    out = server["client"].completions.create(model=NAME, prompt=prompt, max_tokens=12, temperature=0)
    ids = reference["encode"](prompt)
    assert out.choices[0].text == reference["greedy"](ids, 12)
    assert out.model == server["id"] and out.usage.prompt_tokens == len(ids)
    if out.choices[0].finish_reason == "length":
        assert out.usage.completion_tokens == 12


def test_greedy_chat_is_rendered_with_the_chat_template_and_stops_at_the_end_of_turn(server, reference):
    out = server["client"].chat.completions.create(model=server["id"], messages=HELLO, temperature=0, max_tokens=40)
    ids = reference["chat_ids"](HELLO)
    assert out.choices[0].message.role == "assistant"
    assert out.choices[0].message.content == reference["greedy"](ids, 40)
    assert out.usage.prompt_tokens == len(ids)
    assert out.choices[0].finish_reason in ("stop", "length")


def test_max_tokens_ends_with_finish_reason_length(server):
    out = server["client"].completions.create(model=NAME, prompt="Expense claims", max_tokens=3, temperature=0)
    assert out.choices[0].finish_reason == "length" and out.usage.completion_tokens == 3


def test_streamed_answers_are_the_plain_answers_in_pieces(server, reference):
    client = server["client"]
    chunks = list(client.chat.completions.create(model=NAME, messages=HELLO, temperature=0, max_tokens=40, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reference["greedy"](reference["chat_ids"](HELLO), 40)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason in ("stop", "length") and len(chunks) > 3
    ask = {"model": NAME, "prompt": "Laptops must", "max_tokens": 10, "temperature": 0, "stream": True}
    pieces = list(client.completions.create(**ask, stream_options={"include_usage": True}))
    assert pieces[-1].choices == [] and pieces[-1].usage.completion_tokens == 10
    pieces = pieces[:-1]
    assert "".join(p.choices[0].text for p in pieces) == reference["greedy"](reference["encode"]("Laptops must"), 10)
    assert pieces[-1].choices[0].finish_reason == "length"


def test_a_stop_sequence_ends_the_text_before_it_plain_and_streamed(server, reference):
    prompt = "The PX-200 transmitter"
    full = reference["greedy"](reference["encode"](prompt), 30)
    stop = full[6:9]
    expected = full[: full.index(stop)]
    client = server["client"]
    out = client.completions.create(model=NAME, prompt=prompt, max_tokens=30, temperature=0, stop=[stop, "never-seen"])
    assert (out.choices[0].text, out.choices[0].finish_reason) == (expected, "stop")
    pieces = list(
        client.completions.create(model=NAME, prompt=prompt, max_tokens=30, temperature=0, stop=stop, stream=True)
    )
    assert "".join(p.choices[0].text for p in pieces) == expected
    assert pieces[-1].choices[0].finish_reason == "stop"


def test_a_seed_makes_sampling_repeatable(server):
    ask = {"model": NAME, "messages": HELLO, "temperature": 1.0, "top_p": 0.9, "max_tokens": 20, "seed": 7}
    a, b = (server["client"].chat.completions.create(**ask).choices[0].message.content for _ in range(2))
    assert a == b


def test_two_clients_at_once_each_get_their_own_answer(server, reference):
    prompts = ["Full-time employees get", "What pressure does the"]
    answers: dict[str, str] = {}

    def ask(prompt: str) -> None:
        out = server["client"].completions.create(model=NAME, prompt=prompt, max_tokens=16, temperature=0)
        answers[prompt] = out.choices[0].text

    threads = [threading.Thread(target=ask, args=(p,)) for p in prompts * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == {p: reference["greedy"](reference["encode"](p), 16) for p in prompts}


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"max_tokens": BLOCK}, "prompt", "context_length_exceeded"),
        ({"prompt": "word " * 200}, "prompt", "context_length_exceeded"),
        ({"max_tokens": "ten"}, "max_tokens", "int_type"),
        ({"stop": 5}, "stop", None),
        ({"n": 2}, "n", None),
        ({"logprobs": 3}, "logprobs", "extra_forbidden"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(server, change, param, code):
    ask = {"model": NAME, "prompt": "Hello", "max_tokens": 4} | change
    with pytest.raises(openai.BadRequestError) as e:
        server["client"].completions.create(**ask) if "logprobs" not in change else server["client"].post(
            "/completions", body=ask, cast_to=object
        )
    error = e.value.body
    assert e.value.status_code == 400 and error["type"] == "invalid_request_error" and error["param"] == param
    assert code is None or error["code"] == code
    assert error["message"]


def test_a_bad_chat_message_and_an_unknown_model_are_openai_errors(server):
    client = server["client"]
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=NAME, messages=[{"role": "user", "content": 3}])
    assert e.value.body["param"] == "messages.0.content"
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    assert e.value.body["code"] == "model_not_found" and e.value.body["param"] == "model"


def test_a_wrong_or_missing_key_is_refused(server):
    wrong = openai.OpenAI(base_url=f"http://127.0.0.1:{server['port']}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        wrong.models.list()
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    bare = httpx.post(f"http://127.0.0.1:{server['port']}/v1/completions", json={"model": NAME, "prompt": "Hi"})
    assert bare.status_code == 401 and bare.json()["error"]["type"] == "invalid_request_error"


def test_an_unset_key_variable_is_a_clear_error(tmp_path):
    done = forge("serve", NAME, "--api-key-env", "FORGE_TEST_UNSET_VARIABLE", "--workspace", "ws", cwd=tmp_path)
    assert done.returncode != 0 and "FORGE_TEST_UNSET_VARIABLE" in done.stderr


def test_sigterm_stops_the_server_cleanly(server):
    """After this test, no test uses the module's server."""
    proc = server["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_mlflow_models_serve_answers_invocations_with_a_text_column(registered):
    port = free_port()
    uri = workspace_store(registered["ws"])
    cmd = [str(BIN / "mlflow"), "models", "serve", "-m", f"models:/{NAME}/{registered['version']}"]
    cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    # mlflow starts `uvicorn` by name: the virtualenv's bin goes on PATH, as when it is activated.
    env = clean_env(MLFLOW_TRACKING_URI=uri, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    log = registered["home"] / "mlflow-serve.log"
    proc = start(cmd, registered["home"], env, log)
    try:
        wait_until_up(proc, f"http://127.0.0.1:{port}/ping", log)
        body = {"dataframe_split": {"columns": ["prompt"], "data": [["Hello"]]}, "params": {"max_new_tokens": 5}}
        answer = httpx.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert len(predictions) == 1 and isinstance(predictions[0]["text"], str)
    finally:
        stop(proc)
