"""The OpenAI HTTP API as Forge serves it: the request bodies it accepts and the error body it
answers with.

Requests are checked strictly (a field of the wrong type, or one Forge does not implement, is a 400
naming it, not a silent default), because a client that asked for `logprobs` or `n: 3` and got a
plain answer would believe something untrue about it. Errors take OpenAI's shape, so the openai
client raises its own BadRequestError, AuthenticationError or NotFoundError with the message.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator


class ApiError(Exception):
    """An answer other than 200, in OpenAI's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def response(self) -> JSONResponse:
        body = {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}
        return JSONResponse({"error": body}, status_code=self.status)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamOptions(Strict):
    include_usage: bool = Field(False, strict=True)


class Generation(Strict):
    """What completions and chat completions share."""

    model: str
    max_tokens: int | None = Field(None, ge=1, strict=True)
    max_completion_tokens: int | None = Field(None, ge=1, strict=True)  # chat's newer name for max_tokens
    temperature: float = Field(1.0, ge=0.0, le=2.0, strict=True)
    top_p: float = Field(1.0, gt=0.0, le=1.0, strict=True)
    n: int = Field(1, ge=1, strict=True)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, strict=True)
    stream: bool = Field(False, strict=True)
    stream_options: StreamOptions | None = None
    user: str | None = None
    presence_penalty: float = Field(0.0, strict=True)
    frequency_penalty: float = Field(0.0, strict=True)

    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int) -> int:
        if n != 1:
            raise ValueError("forge serve answers one choice per request; send n requests instead")
        return n

    @field_validator("presence_penalty", "frequency_penalty")
    @classmethod
    def _no_penalty(cls, value: float) -> float:
        if value != 0:
            raise ValueError("penalties are not implemented by forge serve; leave it at 0")
        return value

    @field_validator("stop")
    @classmethod
    def _stop_texts(cls, stop: str | list[str] | None) -> str | list[str] | None:
        texts = [stop] if isinstance(stop, str) else stop or []
        if any(not s for s in texts):
            raise ValueError("a stop sequence cannot be empty")
        if len(texts) > 4:
            raise ValueError("at most 4 stop sequences, as OpenAI allows")
        return stop

    def stop_texts(self) -> tuple[str, ...]:
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())

    def wanted_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(Generation):
    prompt: str | list[str]

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and len(prompt) != 1:
            raise ValueError("forge serve takes one prompt per request (a string, or a list of one)")
        return prompt

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class TextPart(Strict):
    type: Literal["text"]
    text: str


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    def as_dict(self) -> dict[str, str]:
        content = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": self.role, "content": content}


class ChatRequest(Generation):
    messages: list[ChatMessage] = Field(min_length=1)


def validation_error(exc: RequestValidationError) -> ApiError:
    """FastAPI's 422 as OpenAI's 400: the field (`messages.0.content`) as param, pydantic's error
    type as code. A union field fails once per branch; the path the branches share is the field."""
    errors = list(exc.errors())
    if not errors:
        return ApiError(400, "the request body is not valid", code="invalid_request")
    first = errors[0]
    if first.get("type") == "json_invalid":
        return ApiError(400, f"the body is not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}")
    path = _field_path(first["loc"])
    for other in errors[1:]:
        shared = _field_path(other["loc"])
        if shared[:1] == path[:1]:
            path = [a for a, b in zip(path, shared, strict=False) if a == b] or path[:1]
    param = ".".join(str(p) for p in path) or None
    kind = first.get("type", "invalid")
    if kind == "extra_forbidden":
        message = f"{param}: not a field forge serve accepts (it implements OpenAI's core parameters only)"
    elif kind == "missing":
        message = f"{param}: required"
    else:
        message = f"{param}: {first['msg']}" + (f" (got {first['input']!r})" if _short(first.get("input")) else "")
    return ApiError(400, message, param=param, code=kind)


def _field_path(loc: tuple[Any, ...]) -> list[Any]:
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    # A union's branch names ('str', 'list[str]', 'function-after[...]') are not fields.
    return [p for p in parts if isinstance(p, int) or (p.isidentifier() and p not in {"str", "int", "float", "bool"})]


def _short(value: Any) -> bool:
    return value is not None and not isinstance(value, dict | list) and len(repr(value)) < 80
