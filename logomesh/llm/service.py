"""The LLM registry: one place that picks a model, calls it, retries, falls back and audits.

Every caller (the ``llm.ask`` command, the editor's code actions, cognition components)
goes through :class:`LLMService`, so retry policy, cooldowns, concurrency limits, the
context-window check, cost accounting and the audit record of every attempt are written
once. A call walks the chain ``[model, *fallbacks]``; each model is tried up to
``llm.retry.attempts`` times (tenacity), but only until its answer starts: once a chunk has
reached the caller, a failure ends the call, because a retry would repeat text already shown.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from logomesh.audit import AuditEntry, AuditRecord
from logomesh.commands.values import Outcome
from logomesh.errors import (
    ContextWindowError,
    LLMError,
    LogoMeshError,
    ModelCallError,
    ModelTimeoutError,
    ModelUnavailableError,
    StreamInterruptedError,
)
from logomesh.llm import Caller, GenerationParams, Message
from logomesh.llm.call_log import CallLog
from logomesh.llm.catalog import ModelCatalog, is_remote, missing_package
from logomesh.llm.health import ConcurrencyLimits, ModelHealth
from logomesh.llm.models import (
    AttemptInfo,
    Completion,
    Embeddings,
    GenerationRequest,
    Usage,
    estimate_tokens,
)
from logomesh.llm.pool import ModelPool
from logomesh.llm.providers.base import ChatBackend, Chunk, EmbeddingBackend, LoadContext
from logomesh.llm.recording import CALL_ACTION, EMBED_ACTION, AttemptRecord, CallRecorder
from logomesh.llm.retry import retrying
from logomesh.llm.settings import Capability, LLMSettings, ModelConfig, Purpose
from logomesh.llm.streaming import iterate_in_thread
from logomesh.llm.translate import translate

if TYPE_CHECKING:
    from logomesh.nl import Embedder


@dataclass
class _OpenStream:
    """A model that has started answering: its first chunk and the rest still to come."""

    config: ModelConfig
    backend: ChatBackend
    chunks: AsyncGenerator[Chunk, None]
    first: Chunk | None
    started: float
    first_token_ms: float | None
    params: GenerationParams
    attempt: int
    fallback_index: int
    release: Callable[[], None]


class ChatStream:
    """Text deltas as they arrive (``async for``); ``completion`` once the stream is done."""

    def __init__(self, deltas: Callable[[ChatStream], AsyncIterator[str]]) -> None:
        self.completion: Completion | None = None
        self._deltas = cast(AsyncGenerator[str, None], deltas(self))

    def __aiter__(self) -> AsyncIterator[str]:
        return self._deltas

    async def aclose(self) -> None:
        """Stop early: the model is told to stop and the partial answer is recorded."""
        await self._deltas.aclose()

    async def collect(self) -> Completion:
        async for _ in self._deltas:
            pass
        assert self.completion is not None
        return self.completion


class LLMService:
    def __init__(
        self,
        settings: LLMSettings,
        *,
        write_audit: Callable[[AuditEntry], Awaitable[AuditRecord | None]],
        cache_dir: Path,
        pool: ModelPool | None = None,
        environ: dict[str, str] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = ModelCatalog(settings)
        self.pool = pool or ModelPool()
        self.health = ModelHealth(settings.cooldown)
        self.limits = ConcurrencyLimits()
        self.recorder = CallRecorder(write_audit, settings.audit_max_chars)
        self._load_context = LoadContext(
            cache_dir, dict(os.environ if environ is None else environ), embedder
        )

    # -- public calls ---------------------------------------------------------------------

    def stream_chat(
        self,
        messages: Sequence[Message],
        caller: Caller,
        *,
        model: str | None = None,
        purpose: Purpose = Purpose.CHAT,
        params: GenerationParams | None = None,
    ) -> ChatStream:
        request = GenerationRequest(messages=tuple(messages), params=params or GenerationParams())
        return ChatStream(lambda stream: self._generate(stream, request, caller, model, purpose))

    async def chat(
        self,
        messages: Sequence[Message],
        caller: Caller,
        *,
        model: str | None = None,
        purpose: Purpose = Purpose.CHAT,
        params: GenerationParams | None = None,
    ) -> Completion:
        stream = self.stream_chat(messages, caller, model=model, purpose=purpose, params=params)
        return await stream.collect()

    async def complete(
        self,
        prompt: str,
        caller: Caller,
        *,
        model: str | None = None,
        purpose: Purpose = Purpose.CHAT,
        params: GenerationParams | None = None,
    ) -> Completion:
        """A raw completion of ``prompt`` (no chat template) from a completion-capable model."""
        request = GenerationRequest(prompt=prompt, params=params or GenerationParams())
        stream = ChatStream(lambda s: self._generate(s, request, caller, model, purpose))
        return await stream.collect()

    async def embed(
        self, texts: Sequence[str], caller: Caller, *, model: str | None = None
    ) -> Embeddings:
        first = self.catalog.get(model) if model else self.catalog.default_for(Purpose.EMBEDDINGS)
        call = CallLog(GenerationRequest(prompt="\n".join(texts)), caller, self.recorder)
        for index, config in enumerate(self.catalog.chain(first)):
            try:
                self._check_usable(config, Capability.EMBEDDINGS)
                return await self._embed_with_retries(config, list(texts), call, index)
            except LogoMeshError as exc:
                await self._give_up(call, config, exc, index, EMBED_ACTION)
        raise call.final_error()

    # -- generation -----------------------------------------------------------------------

    async def _generate(
        self,
        stream: ChatStream,
        request: GenerationRequest,
        caller: Caller,
        model: str | None,
        purpose: Purpose,
    ) -> AsyncIterator[str]:
        first = self.catalog.get(model) if model else self.catalog.default_for(purpose)
        call = CallLog(request, caller, self.recorder)
        opened: _OpenStream | None = None
        for index, config in enumerate(self.catalog.chain(first)):
            try:
                self._check_usable(
                    config, Capability.CHAT if request.is_chat else Capability.COMPLETION
                )
                opened = await self._open_with_retries(config, call, index)
                break
            except LogoMeshError as exc:
                await self._give_up(call, config, exc, index, CALL_ACTION)
        if opened is None:
            raise call.final_error()
        async for delta in self._deliver(opened, call, stream):
            yield delta

    async def _open_with_retries(
        self, config: ModelConfig, call: CallLog, index: int
    ) -> _OpenStream:
        backend = await self._chat_backend(config)
        params = call.request.params.over(config.parameters)
        request = GenerationRequest(call.request.messages, call.request.prompt, params)
        self._check_context(config, backend, request)
        attempt_number = 0

        async def open_once() -> _OpenStream:
            nonlocal attempt_number
            attempt_number += 1
            return await self._open(config, backend, request, call, attempt_number, index)

        result: _OpenStream = await retrying(self.settings.retry)(open_once)
        return result

    async def _open(
        self,
        config: ModelConfig,
        backend: ChatBackend,
        request: GenerationRequest,
        call: CallLog,
        attempt: int,
        index: int,
    ) -> _OpenStream:
        permit = await self.limits.acquire(config.name, config.max_concurrency)
        cancel = threading.Event()
        started = time.perf_counter()
        timeout = config.timeout_s or self.settings.timeout_s
        chunks = iterate_in_thread(
            lambda: backend.stream(request, cancel),
            cancel,
            timeout_s=timeout,
            on_timeout=lambda: ModelTimeoutError(
                f"{config.name} did not answer within {timeout:g} s. Raise `timeout_s` in its "
                "[[llm.models]] table (or `llm.timeout_s`)."
            ),
        )
        try:
            first = await anext(chunks, None)
        except BaseException as exc:
            permit.release()
            await chunks.aclose()
            error = translate(exc, config.name) if isinstance(exc, Exception) else None
            if error is None:
                raise
            await call.failed(
                config, index, attempt, request.params, backend.version, started, error=error
            )
            raise error from exc
        first_token_ms = (time.perf_counter() - started) * 1000
        return _OpenStream(
            config, backend, chunks, first, started, first_token_ms, request.params, attempt,
            index, permit.release,
        )  # fmt: skip

    async def _deliver(
        self, opened: _OpenStream, call: CallLog, stream: ChatStream
    ) -> AsyncIterator[str]:
        """Pass the answer on, then record the attempt and build the completion."""
        parts: list[str] = []
        last: Chunk | None = opened.first
        error: LogoMeshError | None = None
        outcome = Outcome.OK
        try:
            if opened.first is not None and opened.first.text:
                parts.append(opened.first.text)
                yield opened.first.text
            async for chunk in opened.chunks:
                last = chunk
                if chunk.text:
                    parts.append(chunk.text)
                    yield chunk.text
        except GeneratorExit:
            outcome = Outcome.CANCELLED
            raise
        except BaseException as exc:
            if not isinstance(exc, Exception):
                outcome = Outcome.CANCELLED
                raise
            cause = translate(exc, opened.config.name)
            outcome = Outcome.ERROR
            if cause is None:
                raise  # a bug, not the model's doing: it propagates as itself
            error = StreamInterruptedError(
                f"{opened.config.name} stopped after part of its answer "
                f"({len(''.join(parts))} characters): {cause.user_message}"
            )
            raise error from exc
        finally:
            opened.release()
            await opened.chunks.aclose()
            completion = await self._finish(opened, call, "".join(parts), last, outcome, error)
            stream.completion = completion
            if error is None and outcome is Outcome.OK:
                self.health.succeeded(opened.config.name)

    async def _finish(
        self,
        opened: _OpenStream,
        call: CallLog,
        text: str,
        last: Chunk | None,
        outcome: Outcome,
        error: LogoMeshError | None,
    ) -> Completion:
        config = opened.config
        usage = self._usage(opened.backend, call.request, text, last)
        cost = usage.tokens_in * config.cost.input + usage.tokens_out * config.cost.output
        latency_ms = (time.perf_counter() - opened.started) * 1000
        audit_id = await self.recorder.record(
            AttemptRecord(
                action=CALL_ACTION,
                config=config,
                caller=call.caller,
                attempt=opened.attempt,
                fallback_index=opened.fallback_index,
                prompt=call.request.text(),
                parameters=opened.params.to_dict(),
                model_version=opened.backend.version,
                response=text,
                usage=usage,
                latency_ms=latency_ms,
                first_token_ms=opened.first_token_ms,
                cost_usd=cost,
                error=error,
                outcome=outcome,
                extra={"finish_reason": last.finish_reason if last else None},
            )
        )
        call.attempts.append(
            AttemptInfo(config.name, opened.attempt, str(outcome),
                        error.code if error else None, latency_ms, audit_id)
        )  # fmt: skip
        return Completion(
            text=text,
            model=config.name,
            model_version=opened.backend.version,
            usage=usage,
            latency_ms=latency_ms,
            first_token_ms=opened.first_token_ms,
            cost_usd=cost,
            finish_reason=last.finish_reason if last else None,
            attempts=tuple(call.attempts),
        )

    @staticmethod
    def _usage(
        backend: ChatBackend, request: GenerationRequest, text: str, last: Chunk | None
    ) -> Usage:
        if last is not None and last.tokens_in is not None and last.tokens_out is not None:
            return Usage(last.tokens_in, last.tokens_out)
        counted = backend.count_tokens(request)
        tokens_in = counted if counted is not None else estimate_tokens(request.text())
        return Usage(tokens_in, estimate_tokens(text), estimated=True)

    # -- embeddings -----------------------------------------------------------------------

    async def _embed_with_retries(
        self, config: ModelConfig, texts: list[str], call: CallLog, index: int
    ) -> Embeddings:
        backend = await self._embedding_backend(config)
        attempt_number = 0

        async def embed_once() -> Embeddings:
            nonlocal attempt_number
            attempt_number += 1
            return await self._embed(config, backend, texts, call, attempt_number, index)

        result: Embeddings = await retrying(self.settings.retry)(embed_once)
        self.health.succeeded(config.name)
        return result

    async def _embed(
        self,
        config: ModelConfig,
        backend: EmbeddingBackend,
        texts: list[str],
        call: CallLog,
        attempt: int,
        index: int,
    ) -> Embeddings:
        permit = await self.limits.acquire(config.name, config.max_concurrency)
        started = time.perf_counter()
        timeout = config.timeout_s or self.settings.timeout_s
        cancel = threading.Event()
        try:
            results = iterate_in_thread(
                lambda: iter([backend.embed(texts)]),
                cancel,
                timeout_s=timeout,
                on_timeout=lambda: ModelTimeoutError(
                    f"{config.name} did not embed {len(texts)} texts within {timeout:g} s."
                ),
            )
            vectors = await anext(results)
            await results.aclose()
        except Exception as exc:
            error = translate(exc, config.name)
            if error is None:
                raise  # a bug, not the model's doing: it propagates as itself
            await call.failed(
                config, index, attempt, GenerationParams(), backend.version, started,
                error=error, action=EMBED_ACTION,
            )  # fmt: skip
            raise error from exc
        finally:
            permit.release()
        latency_ms = (time.perf_counter() - started) * 1000
        tokens = sum(estimate_tokens(text) for text in texts)
        audit_id = await self.recorder.record(
            AttemptRecord(
                action=EMBED_ACTION,
                config=config,
                caller=call.caller,
                attempt=attempt,
                fallback_index=index,
                prompt=call.request.text(),
                model_version=backend.version,
                usage=Usage(tokens, 0, estimated=True),
                latency_ms=latency_ms,
                cost_usd=tokens * config.cost.input,
                extra={"texts": len(texts), "dimensions": len(vectors[0]) if vectors else 0},
            )
        )
        call.attempts.append(AttemptInfo(config.name, attempt, "ok", None, latency_ms, audit_id))
        return Embeddings(vectors, config.name, backend.version, latency_ms, tuple(call.attempts))

    # -- checks and bookkeeping -----------------------------------------------------------

    def _check_usable(self, config: ModelConfig, capability: Capability) -> None:
        if capability not in config.capabilities:
            can = ", ".join(config.capabilities)
            raise ModelUnavailableError(
                f"{config.name} does not support {capability} (it supports: {can}). Pick "
                "another model (`logomesh llm list`), or add the capability in its table."
            )
        if not self.settings.allow_network and is_remote(config):
            raise ModelUnavailableError(
                f"{config.name} is a remote model and network calls are off (offline mode, "
                "or `llm.allow_network = false`). Use a local model such as gemma-3-270m."
            )
        missing = missing_package(config)
        if missing is not None:
            raise missing
        cooling = self.health.cooling_for(config.name)
        if cooling > 0:
            raise ModelUnavailableError(
                f"{config.name} is cooling down for {cooling:.0f} s more after repeated "
                f"failures (last: {self.health.last_error(config.name)})."
            )

    def _check_context(
        self, config: ModelConfig, backend: ChatBackend, request: GenerationRequest
    ) -> None:
        counted = backend.count_tokens(request)
        tokens = counted if counted is not None else estimate_tokens(request.text())
        wanted = request.params.max_tokens or 0
        if tokens + wanted > config.context_window:
            about = "" if counted is not None else "about "
            raise ContextWindowError(
                f"The prompt is {about}{tokens} tokens and up to {wanted} more were asked for, "
                f"but {config.name}'s context window is {config.context_window} tokens. Shorten "
                "the prompt, lower max_tokens, or pick a model with a larger window."
            )

    async def _chat_backend(self, config: ModelConfig) -> ChatBackend:
        backend = await self._load(config)
        if not isinstance(backend, ChatBackend):
            raise ModelUnavailableError(f"{config.name} is an embedding model; it cannot chat.")
        return backend

    async def _embedding_backend(self, config: ModelConfig) -> EmbeddingBackend:
        backend = await self._load(config)
        if not isinstance(backend, EmbeddingBackend):
            raise ModelUnavailableError(f"{config.name} cannot embed text.")
        return backend

    async def _load(self, config: ModelConfig) -> Any:
        if self.pool.is_loaded(config):
            return self.pool.get(config, self._load_context).backend
        try:
            # Loading takes seconds (imports, weights): off the loop, so other work goes on.
            loaded = await asyncio.to_thread(self.pool.get, config, self._load_context)
            return loaded.backend
        except LogoMeshError:
            raise
        except Exception as exc:
            raise LLMError(
                f"{config.name} could not be loaded ({type(exc).__name__}: {exc}).",
                code="llm.load_failed",
            ) from exc

    async def _give_up(
        self, call: CallLog, config: ModelConfig, exc: LogoMeshError, index: int, action: str
    ) -> None:
        """A model of the chain is done for: record why, count it against its health."""
        await call.gave_up_on(config, exc, index, action)
        if isinstance(exc, ModelCallError):
            self.health.failed(config.name, exc.user_message)
