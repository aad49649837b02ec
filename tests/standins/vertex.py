"""Google Vertex AI's Gemini API and Google's OAuth token endpoint, as LiteLLM reaches them for
`vertex_ai/gemini-*` with `api_base: http://127.0.0.1:PORT` and a service-account JSON whose `token_uri`
points here.

LiteLLM (1.106.2) keeps `api_base` when its path is empty and appends the regular Vertex path:
`POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent` and
`...:streamGenerateContent?alt=sse` (SSE, `data: {...}\\r\\n\\r\\n`). Before that, google-auth posts a
JWT-bearer grant to `/token`; this stand-in checks the JWT's RS256 signature with the public key of the
service account it wrote, hands out a random access token, and the model endpoints accept only such tokens.
Conversations must obey Vertex's rules (alternating roles, function responses answering the previous
turn's function calls, thought signatures it issued), else the stand-in answers Vertex's 400 with its wording.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .prompt_cache import CacheUsage, PrefixCache, gemini_min_tokens, gemini_request
from .script import Recorded, Reply
from .server import StandIn

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always signs the assertion for Google's own token endpoint, whatever `token_uri` says.
TOKEN_AUDIENCES = ("https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
# Vertex's documented bypass value for a signature the client cannot supply.
SKIP_SIGNATURE = "skip_thought_signature_validator"

GOOGLE_STATUS: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# Real wordings, as Vertex sends them.
MSG_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MSG_ROLE = "Please use a valid role: user, model."
MSG_ALTERNATE = "Please ensure that multiturn requests alternate between user and model."
MSG_RESPONSE_COUNT = (
    "Please ensure that the number of function response parts is equal to the number of function call parts "
    "of the function call turn."
)
MSG_RESPONSE_PLACEMENT = "Please ensure that function response turn comes immediately after a function call turn."
MSG_SIGNATURE = (
    "Unable to submit request because Thought signature is not valid.. Learn more: "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
)
MSG_EMPTY = (
    "Unable to submit request because it must include at least one parts field, which describes the prompt input."
)

MODEL_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)


def google_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": GOOGLE_STATUS.get(status, "UNKNOWN")}}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _camel_keys(obj: Any) -> Any:
    """A dict with its own keys in camelCase (not its values': those hold user data such as tool args)."""
    return {_camel(k): v for k, v in obj.items()} if isinstance(obj, dict) else obj


def normalize_contents(contents: Any) -> list[dict[str, Any]]:
    """Vertex accepts proto field names in snake_case (what LiteLLM sends) and camelCase: read both."""
    out = []
    for content in contents if isinstance(contents, list) else []:
        parts = [_camel_keys(p) for p in content.get("parts") or []] if isinstance(content, dict) else []
        out.append({**content, "parts": parts})
    return out


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def write_service_account(
    path: Path, token_uri: str, project_id: str = "kaiwa-standin", client_email: str | None = None
) -> Path:
    """Write a service-account JSON with a freshly generated RSA key (never a committed one)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    email = client_email or f"kaiwa-tests@{project_id}.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(info, indent=2))
    path.chmod(0o600)
    return path


@dataclass
class GeminiCall:
    """One generateContent request that passed authentication, as Vertex would parse it: field names in
    camelCase whichever spelling was sent (`body` keeps the request as received)."""

    model: str
    stream: bool
    project: str
    location: str
    query: str
    contents: list[dict[str, Any]]
    system_instruction: dict[str, Any] | None
    tools: list[dict[str, Any]] | None
    tool_config: dict[str, Any] | None
    generation_config: dict[str, Any] | None
    body: dict[str, Any]
    cache: CacheUsage | None = None  # what the implicit cache measured, once the request was answered

    def system_text(self) -> str:
        parts = (self.system_instruction or {}).get("parts") or []
        return "".join(p.get("text", "") for p in parts)

    def function_declarations(self) -> list[dict[str, Any]]:
        return [d for t in self.tools or [] for d in t.get("functionDeclarations") or []]


class VertexStandIn(StandIn):
    """Vertex AI Gemini plus Google's token endpoint.

    `write_service_account(path)` writes the credentials file LiteLLM should use and trusts its key.
    `issued_tokens` and `issued_signatures` survive `reset()`: the proxy caches its access token for an hour.
    `cache` is Gemini 2.5's implicit prompt cache (prompt_cache.py), also kept across `reset()`.
    """

    name = "vertex"

    def __init__(self) -> None:
        super().__init__()
        self._public_keys: dict[str, rsa.RSAPublicKey] = {}  # by client_email
        self.issued_tokens: list[str] = []
        self.issued_signatures: list[str] = []
        self.token_grants: list[dict[str, Any]] = []  # verified JWT claims, one per token handed out
        self.calls: list[GeminiCall] = []
        self.cache = PrefixCache()

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def write_service_account(self, path: Path, project_id: str = "kaiwa-standin") -> Path:
        """Write a service account whose `token_uri` is this stand-in's `/token`, and trust its key."""
        write_service_account(path, self.token_uri, project_id=project_id)
        self.trust_service_account(path)
        return path

    def trust_service_account(self, path: Path) -> None:
        info = json.loads(path.read_text())
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        with self._lock:
            self._public_keys[info["client_email"]] = key.public_key()

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.calls.clear()

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, req: Recorded, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        if req.method == "POST" and parts.path == "/token":
            self._token(req, h)
            return
        match = MODEL_PATH.match(parts.path)
        if req.method != "POST" or match is None:
            self.send_json(h, 404, google_error(404, f"The requested URL {parts.path} was not found."))
            return
        auth = req.header("Authorization") or ""
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        with self._lock:
            known = token in self.issued_tokens
        if not known:
            self.reject(h, 401, google_error(401, MSG_UNAUTHENTICATED), "auth")
            return
        body = req.body
        if not isinstance(body, dict):
            self.reject(h, 400, google_error(400, "Invalid JSON payload received."), "json")
            return
        stream = match["method"] == "streamGenerateContent"
        call = GeminiCall(
            model=match["model"],
            stream=stream,
            project=match["project"],
            location=match["location"],
            query=parts.query,
            contents=normalize_contents(body.get("contents")),
            system_instruction=body.get("systemInstruction") or body.get("system_instruction"),
            tools=[_camel_keys(t) for t in body["tools"]] if isinstance(body.get("tools"), list) else None,
            tool_config=_camel_keys(body.get("toolConfig") or body.get("tool_config")),
            generation_config=_generation_config(body.get("generationConfig") or body.get("generation_config")),
            body=body,
        )
        with self._lock:
            self.calls.append(call)
        broken = self._check_contents(call.contents)
        if broken is not None:
            rule, message = broken
            self.reject(h, 400, google_error(400, message), rule)
            return
        reply = self.next_reply()
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self.send_json(h, reply.status, google_error(reply.status, reply.error_message))
            return
        request = gemini_request(call.system_instruction, call.tools, call.contents)
        minimum = gemini_min_tokens(call.model)
        measured = (
            self.cache.implicit(call.model, request.blocks, minimum)
            if minimum is not None
            else CacheUsage(sum(b.tokens for b in request.blocks), 0, 0)
        )
        if reply.input_tokens is not None:  # scripted: Vertex's promptTokenCount, the cached part included
            measured = CacheUsage(reply.input_tokens - reply.cached_tokens, reply.cached_tokens, 0)
        call.cache = measured
        chunks = self._render(reply, call.model, measured)
        if not stream:
            self.send_json(h, 200, _merge(chunks))
        elif "alt=sse" in parts.query:
            self._stream_sse(h, chunks, reply)
        else:
            # Without alt=sse Vertex streams one JSON array; the proxy never asks for it, so send it whole.
            self.send_json(h, 200, chunks)

    # -- OAuth ------------------------------------------------------------------------------
    def _token(self, req: Recorded, h: BaseHTTPRequestHandler) -> None:
        raw = req.body if isinstance(req.body, bytes) else b""
        form = {k: v[0] for k, v in parse_qs(raw.decode("ascii", "replace")).items()}
        if form.get("grant_type") != JWT_BEARER:
            self._token_error(h, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", ""))
            return
        claims = self._verify_assertion(form.get("assertion", ""))
        if isinstance(claims, str):
            self._token_error(h, "invalid_grant", claims)
            return
        token = "ya29.standin-" + secrets.token_urlsafe(32)
        with self._lock:
            self.issued_tokens.append(token)
            self.token_grants.append(claims)
        self.send_json(h, 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _token_error(self, h: BaseHTTPRequestHandler, error: str, description: str) -> None:
        with self._lock:
            self.rejections.append(f"token:{error}")
        self.send_json(h, 400, {"error": error, "error_description": description})

    def _verify_assertion(self, assertion: str) -> dict[str, Any] | str:
        """The verified claims, or Google's error description."""
        try:
            head_b64, payload_b64, sig_b64 = assertion.split(".")
            header = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(payload_b64))
            signature = _b64url_decode(sig_b64)
        except (ValueError, binascii.Error):
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        if header.get("alg") != "RS256":
            return "Invalid JWT Signature."
        with self._lock:
            key = self._public_keys.get(str(claims.get("iss")))
        if key is None:
            return "Invalid grant: account not found"
        try:
            key.verify(signature, f"{head_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        if claims.get("aud") not in (*TOKEN_AUDIENCES, self.token_uri):
            return "Invalid JWT: Failed audience check."
        now = time.time()
        if not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
        if CLOUD_PLATFORM not in str(claims.get("scope", "")).split():
            return "Invalid OAuth scope or ID token audience provided."
        return dict(claims)

    # -- Vertex's rules on a conversation ---------------------------------------------------
    def _check_contents(self, contents: list[dict[str, Any]]) -> tuple[str, str] | None:
        if not contents or any(not c.get("parts") for c in contents):
            return "empty-parts", MSG_EMPTY
        with self._lock:
            issued = set(self.issued_signatures)
        previous: dict[str, Any] | None = None
        for content in contents:
            role = content.get("role", "user")
            if role not in ("user", "model"):
                return "role", MSG_ROLE
            if (previous is None and role != "user") or (previous is not None and previous.get("role") == role):
                return "alternate", MSG_ALTERNATE
            parts = content["parts"]
            for part in parts:
                sig = part.get("thoughtSignature")
                if sig is not None and sig != SKIP_SIGNATURE and sig not in issued:
                    return "thought-signature", MSG_SIGNATURE
            responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
            calls = [p["functionCall"] for p in (previous or {}).get("parts", []) if "functionCall" in p]
            if responses and not calls:
                return "function-response-placement", MSG_RESPONSE_PLACEMENT
            if calls and [r.get("name") for r in responses] != [c.get("name") for c in calls]:
                return "function-response-count", MSG_RESPONSE_COUNT
            previous = content
        return None

    # -- rendering --------------------------------------------------------------------------
    def _issue_signature(self, given: str | None) -> str:
        sig = given or base64.b64encode(b"standin-signature:" + secrets.token_bytes(24)).decode()
        with self._lock:
            self.issued_signatures.append(sig)
        return sig

    def _render(self, reply: Reply, model: str, cache: CacheUsage) -> list[dict[str, Any]]:
        """The response as stream chunks (each a GenerateContentResponse); the last one carries the totals."""
        part_chunks: list[list[dict[str, Any]]] = []
        if reply.thinking is not None:
            sig = self._issue_signature(reply.signature)
            part_chunks.append([{"text": reply.thinking, "thought": True, "thoughtSignature": sig}])
        part_chunks.extend([{"text": piece}] for piece in reply.text_pieces())
        if reply.tool_calls:
            calls: list[dict[str, Any]] = [
                {"functionCall": {"name": c.name, "args": c.arguments}} for c in reply.tool_calls
            ]
            if reply.thinking is not None:
                # Gemini signs the first function call of a thinking turn; it must come back on replay.
                calls[0]["thoughtSignature"] = self._issue_signature(None)
            part_chunks.append(calls)
        if not part_chunks:
            part_chunks.append([{"text": ""}])
        response_id = secrets.token_urlsafe(16)
        # promptTokenCount includes the cached part, which cachedContentTokenCount reports apart.
        prompt = cache.total
        usage: dict[str, Any] = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": reply.output_tokens,
            "totalTokenCount": prompt + reply.output_tokens + reply.reasoning_tokens,
        }
        # Vertex leaves zero counts out.
        if reply.reasoning_tokens:
            usage["thoughtsTokenCount"] = reply.reasoning_tokens
        if cache.read_tokens:
            usage["cachedContentTokenCount"] = cache.read_tokens
        chunks: list[dict[str, Any]] = []
        for i, parts in enumerate(part_chunks):
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
            chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": response_id}
            if i == len(part_chunks) - 1:
                candidate["finishReason"] = "STOP"
                chunk["usageMetadata"] = usage
            chunks.append(chunk)
        return chunks

    def _stream_sse(self, h: BaseHTTPRequestHandler, chunks: list[dict[str, Any]], reply: Reply) -> None:
        self.start_stream(h, "text/event-stream")
        for i, chunk in enumerate(chunks):
            if reply.cut_after is not None and i >= reply.cut_after:
                return  # the connection closes mid-stream
            self.write(h, f"data: {json.dumps(chunk)}\r\n\r\n".encode(), reply.chunk_delay if i else 0.0)


def _generation_config(config: Any) -> dict[str, Any] | None:
    if not isinstance(config, dict):
        return None
    out = _camel_keys(config)
    if isinstance(out.get("thinkingConfig"), dict):
        out["thinkingConfig"] = _camel_keys(out["thinkingConfig"])
    return dict(out)


def _merge(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """One non-streaming response from the stream chunks: Vertex then sends the answer as one text part."""
    parts: list[dict[str, Any]] = []
    for chunk in chunks:
        for part in chunk["candidates"][0]["content"]["parts"]:
            if parts and set(part) == {"text"} and set(parts[-1]) == {"text"}:
                parts[-1] = {"text": parts[-1]["text"] + part["text"]}
            else:
                parts.append(dict(part))
    last = chunks[-1]
    return {**last, "candidates": [{**last["candidates"][0], "content": {"role": "model", "parts": parts}}]}
