"""The HTTP face of `forge serve`: OpenAI's /v1/models, /v1/completions and /v1/chat/completions
(plain, or streamed as server-sent events), and /health, over one engine.

Requests are checked and turned into token ids here, in the event loop (rendering a chat template
and encoding a prompt take microseconds); everything the model does happens on the engine's thread,
whose deltas come back to the waiting request through its event loop.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from forge_core.chat.spec import ChatSpec
from forge_core.chat.template import TemplateError, render
from forge_core.serve.engine import Delta, Engine, Sampling
from forge_core.serve.protocol import ApiError, ChatRequest, CompletionRequest, Generation, validation_error

COMPLETION_DEFAULT_TOKENS = 16  # OpenAI's default max_tokens for /v1/completions


@dataclass
class Served:
    """The model behind the server and what answering for it needs."""

    name: str
    version: str
    ref: str  # as given on the command line (NAME, NAME:3, NAME@champion)
    tokenizer: Any  # tokenizers.Tokenizer
    spec: ChatSpec
    eos_id: int | None
    block_size: int
    engine: Engine
    api_key: str | None = None

    @property
    def model_id(self) -> str:
        return f"{self.name}:{self.version}"

    def stop_ids(self) -> frozenset[int]:
        return frozenset(self.spec.stop_ids) | ({self.eos_id} if self.eos_id is not None else set())

    def check_model(self, model: str) -> None:
        if model not in {self.model_id, self.name, self.ref}:
            message = f"The model {model!r} does not exist here; this server answers for {self.model_id!r}"
            raise ApiError(404, message, param="model", code="model_not_found")

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def sampling(self, body: Generation, prompt: list[int], default_tokens: int, param: str) -> Sampling:
        """The request's sampling, once its prompt and max_tokens are known to fit the context."""
        room = self.block_size - len(prompt)
        wanted = body.wanted_tokens() or min(default_tokens, room)
        if wanted < 1 or len(prompt) + wanted > self.block_size:
            message = (
                f"This model's maximum context length is {self.block_size} tokens; the {param} is "
                f"{len(prompt)} tokens and max_tokens asks for {wanted} more ({len(prompt) + wanted}). "
                "Shorten the prompt or lower max_tokens."
            )
            raise ApiError(400, message, param=param, code="context_length_exceeded")
        return Sampling(
            max_tokens=wanted,
            temperature=body.temperature,
            top_p=body.top_p,
            seed=body.seed,
            stop=body.stop_texts(),
            stop_ids=self.stop_ids(),
        )


async def deltas(engine: Engine, prompt: list[int], sampling: Sampling) -> AsyncIterator[Delta]:
    """A request's deltas as the engine thread emits them; leaving early cancels its row."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Delta] = asyncio.Queue()
    job = engine.submit(prompt, sampling, lambda d: loop.call_soon_threadsafe(inbox.put_nowait, d))
    try:
        while True:
            delta = await inbox.get()
            yield delta
            if delta.last:
                return
    finally:
        job.cancel()


def build_app(served: Served) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        served.engine.start()
        yield
        served.engine.close()

    app = FastAPI(title="forge serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc).response()

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return ApiError(exc.status_code, str(exc.detail), code=None).response()

    def authorized(request: Request) -> None:
        if served.api_key is None:
            return
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), served.api_key.encode()):
            message = "Incorrect or missing API key: send it as 'Authorization: Bearer KEY'"
            raise ApiError(401, message, code="invalid_api_key")

    def model_card() -> dict[str, Any]:
        return {"id": served.model_id, "object": "model", "created": created, "owned_by": "forge"}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        e = served.engine
        return {"status": "ok", "model": served.model_id, "name": served.name, "version": served.version} | {
            "batches": e.batches,
            "widest_batch": e.widest,
        }

    @app.get("/v1/models", dependencies=[Depends(authorized)])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model:path}", dependencies=[Depends(authorized)])
    async def model(model: str) -> dict[str, Any]:
        served.check_model(model)
        return model_card()

    @app.post("/v1/completions", dependencies=[Depends(authorized)])
    async def completions(body: CompletionRequest) -> Any:
        served.check_model(body.model)
        prompt = served.encode(body.text()) or ([served.eos_id] if served.eos_id is not None else [])
        if not prompt:
            raise ApiError(400, "prompt: empty, and this model has no end-of-text token to start from", "prompt")
        sampling = served.sampling(body, prompt, COMPLETION_DEFAULT_TOKENS, "prompt")
        return await answer(body, prompt, sampling, chat=False)

    @app.post("/v1/chat/completions", dependencies=[Depends(authorized)])
    async def chat_completions(body: ChatRequest) -> Any:
        served.check_model(body.model)
        try:
            text = render(served.spec.template, [m.as_dict() for m in body.messages], served.spec.specials, True)
        except TemplateError as e:
            raise ApiError(400, f"messages: the model's {e}", param="messages", code="invalid_messages") from None
        prompt = served.encode(text)
        sampling = served.sampling(body, prompt, served.block_size, "messages")
        return await answer(body, prompt, sampling, chat=True)

    async def answer(body: Generation, prompt: list[int], sampling: Sampling, chat: bool) -> Any:
        head = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": served.model_id,
        }
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            events = stream(head, prompt, sampling, chat, include_usage)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        parts, last = [], Delta("")
        async for delta in deltas(served.engine, prompt, sampling):
            parts.append(delta.text)
            last = delta
        if last.error:
            raise ApiError(500, last.error, kind="server_error")
        text = "".join(parts)
        choice = {"index": 0, "logprobs": None, "finish_reason": last.finish_reason}
        choice |= {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
        return head | {
            "object": "chat.completion" if chat else "text_completion",
            "choices": [choice],
            "usage": usage(len(prompt), last.completion_tokens),
        }

    async def stream(
        head: dict[str, Any], prompt: list[int], sampling: Sampling, chat: bool, include_usage: bool
    ) -> AsyncIterator[str]:
        kind = "chat.completion.chunk" if chat else "text_completion"

        def chunk(text: str | None, finish: str | None) -> str:
            choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish}
            if chat:
                choice["delta"] = {} if text is None else {"content": text}
            else:
                choice["text"] = text or ""
            return event(head | {"object": kind, "choices": [choice]})

        if chat:  # OpenAI's first chunk names the role
            yield event(
                head | {"object": kind, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
            )
        async for delta in deltas(served.engine, prompt, sampling):
            if delta.error:
                yield event({"error": {"message": delta.error, "type": "server_error", "param": None, "code": None}})
                break
            if delta.text:
                yield chunk(delta.text, None)
            if delta.finish_reason:
                yield chunk(None, delta.finish_reason)
                if include_usage:
                    yield event(
                        head | {"object": kind, "choices": [], "usage": usage(len(prompt), delta.completion_tokens)}
                    )
        yield "data: [DONE]\n\n"

    return app


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"
