"""A small chat.v1 client in Python: the protocol from nothing but the .proto files and a WebSocket library.

Code generated from proto/ (scripts/setup.d/40-python.sh runs grpc_tools.protoc into conformance/python/gen)
gives the message classes; this module adds the connection: request ids and replies, pushes, and the
app-level heartbeat (a Ping every AuthOk.heartbeat_interval_ms; two Pings in a row without a Pong mean the
connection is dead). asyncio + websockets.

    async with ChatClient.connect("ws://127.0.0.1:8080/ws") as chat:
        await chat.register("ada", "correct horse battery")
        room = await chat.join_room("K7QX2M")
        await chat.send_message(room.code, "hello")
        message = await chat.next_message(room.code)
        upload = await chat.upload_file(b"%PDF-1.4 ...", "report.pdf")   # POST /v1/uploads
        await chat.send_message(room.code, "", attachment_ids=[upload["id"]])
        data = await chat.download(message.attachments[0].id)          # GET /v1/files/{id}
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from chat.v1 import envelope_pb2, error_pb2  # noqa: E402

# Server messages can be far larger than the 64 KiB a client may send (history pages, recoveries).
MAX_SERVER_MESSAGE = 16 * 1024 * 1024


class ChatError(Exception):
    """A request was answered with an Error frame (the connection stays open)."""

    def __init__(self, code: int, message: str, retry_after_ms: int = 0) -> None:
        self.code = code
        self.code_name = error_pb2.ErrorCode.Name(code)
        self.retry_after_ms = retry_after_ms
        super().__init__(f"{self.code_name}: {message}")


class ConnectionClosed(Exception):
    """The server closed the connection (or it died); `code` is the WebSocket close code if any."""

    def __init__(self, code: int | None, reason: str = "") -> None:
        self.code = code
        super().__init__(f"connection closed ({code} {reason})".strip())


class HttpError(Exception):
    """A file endpoint answered with an error status (the JSON body's `error` code, e.g. file-too-large)."""

    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(f"HTTP {status} {error}: {message}")
        self.status = status
        self.error = error


class ChatClient:
    def __init__(self, ws: ClientConnection, http_url: str = "") -> None:
        self._ws = ws
        # The HTTP origin of the WebSocket URL: files are uploaded and downloaded there (docs/protocol.md 3.13).
        self.http_url = http_url
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[envelope_pb2.ServerFrame]] = {}
        self._pushes: asyncio.Queue[envelope_pb2.ServerFrame] = asyncio.Queue()
        self._closed: ConnectionClosed | None = None
        self._reader = asyncio.create_task(self._read())
        self._heartbeat: asyncio.Task[None] | None = None
        self.auth: Any = None
        self.pongs = 0

    @classmethod
    async def open(cls, url: str, token: str | None = None) -> "ChatClient":
        headers = {"Authorization": f"Bearer {token}"} if token else None
        ws = await connect(
            url,
            additional_headers=headers,
            max_size=MAX_SERVER_MESSAGE,
            compression=None,  # the server does not negotiate permessage-deflate
            ping_interval=None,  # liveness is the protocol's own Ping, not WebSocket pings
            proxy=None,
        )
        parts = urllib.parse.urlsplit(url)
        return cls(ws, f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}")

    @classmethod
    def connect(cls, url: str, token: str | None = None) -> "_Connecting":
        return _Connecting(url, token)

    # --- frames -------------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                if isinstance(data, str):
                    raise RuntimeError("server sent a text message")
                frame = envelope_pb2.ServerFrame.FromString(data)
                if frame.id != 0 and frame.id in self._pending:
                    self._pending.pop(frame.id).set_result(frame)
                elif frame.id == 0 and frame.WhichOneof("kind") == "auth_ok" and self.auth is None:
                    self._authenticated(frame.auth_ok)
                elif frame.id == 0:
                    await self._pushes.put(frame)
        except Exception:  # noqa: BLE001 - any failure ends the connection below
            pass
        self._closed = ConnectionClosed(self._ws.close_code, self._ws.close_reason or "")
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(self._closed)
        self._pending.clear()

    async def call(self, kind: str, timeout: float = 10.0, **fields: Any) -> Any:
        """Sends one request and returns the value of its reply; raises ChatError for an Error reply."""
        if self._closed:
            raise self._closed
        frame_id = next(self._ids)
        request = envelope_pb2.ClientFrame(id=frame_id, **{kind: fields})
        future: asyncio.Future[envelope_pb2.ServerFrame] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = future
        await self._ws.send(request.SerializeToString())
        reply = await asyncio.wait_for(future, timeout)
        which = reply.WhichOneof("kind")
        if which == "error":
            raise ChatError(reply.error.code, reply.error.message, reply.error.retry_after_ms)
        return getattr(reply, which)

    async def next_push(self, kind: str | None = None, timeout: float = 10.0) -> Any:
        """Returns the value of the next push (of `kind`, skipping others)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind or 'push'} within {timeout} s")
            if self._closed and self._pushes.empty():
                raise self._closed
            try:
                frame = await asyncio.wait_for(self._pushes.get(), min(left, 0.2))
            except asyncio.TimeoutError:
                continue
            which = frame.WhichOneof("kind")
            if kind is None or which == kind:
                return getattr(frame, which)

    # --- auth and heartbeat -------------------------------------------------------------------------

    def _authenticated(self, auth: Any) -> None:
        self.auth = auth
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(auth.heartbeat_interval_ms / 1000))

    async def _beat(self, interval: float) -> None:
        """Pings every announced interval; two consecutive Pings without a Pong close the connection."""
        missed = 0
        nonce = itertools.count(1)
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                await self.call("ping", timeout=interval * 2, nonce=next(nonce), client_time_ms=int(time.time() * 1000))
                self.pongs += 1
                missed = 0
            except asyncio.TimeoutError:
                missed += 1
                if missed >= 2:
                    await self._ws.close()
                    return
            except (ConnectionClosed, ChatError, Exception):  # noqa: BLE001
                if self._closed:
                    return

    async def register(self, username: str, password: str) -> Any:
        auth = await self.call("register", username=username, password=password)
        self._authenticated(auth)
        return auth

    async def login(self, username: str, password: str) -> Any:
        auth = await self.call("login", username=username, password=password)
        self._authenticated(auth)
        return auth

    # --- rooms and messages -------------------------------------------------------------------------

    async def create_room(self, name: str = "", persistent: bool = False) -> Any:
        return await self.call("create_room", name=name, persistent=persistent)

    async def join_room(self, code: str) -> Any:
        return await self.call("join_room", code=code)

    async def send_message(
        self, room_code: str, text: str, client_message_id: str | None = None, reply_to_seq: int = 0, attachment_ids: list[str] | None = None
    ) -> Any:
        """Sends a room message (a reply when reply_to_seq names an earlier message, with the uploads
        `attachment_ids`; text may then be empty); returns the SendAck."""
        return await self.call(
            "send_message",
            room_code=room_code,
            client_message_id=client_message_id or str(uuid.uuid4()),
            text=text,
            reply_to_seq=reply_to_seq,
            attachment_ids=attachment_ids or [],
        )

    # --- files: HTTP with the session token as a bearer token ----------------------------------------------

    def _token(self) -> str:
        if self.auth is None:
            raise RuntimeError("register or log in first: files need the session token")
        return self.auth.session_token

    def _http(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(
            self.http_url + path, data=body, method=method, headers={"Authorization": f"Bearer {self._token()}", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the server's own URL
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            data = e.read()
            try:
                info = json.loads(data)
            except ValueError:
                info = {}
            raise HttpError(e.code, str(info.get("error", "")), str(info.get("message", ""))) from None

    async def upload_file(self, data: bytes, name: str) -> dict[str, Any]:
        """Uploads `data` (POST /v1/uploads); returns the JSON answer: id, fileName, mediaType, sizeBytes,
        width, height, thumbnailUrl, expiresAtMs. Attach it by id within the server's upload TTL."""
        _, _, body = await asyncio.to_thread(self._http, "POST", "/v1/uploads?name=" + urllib.parse.quote(name), data, {"Content-Type": "application/octet-stream"})
        return json.loads(body)

    async def download(self, file_id: str, thumbnail: bool = False) -> bytes:
        """The bytes of an attachment (GET /v1/files/{id}, or its thumbnail); HttpError 404 when not yours to read."""
        path = f"/v1/files/{urllib.parse.quote(file_id)}" + ("/thumbnail" if thumbnail else "")
        _, _, body = await asyncio.to_thread(self._http, "GET", path)
        return body

    # --- message actions: each is an event with its own seq, pushed as a message whose `action` is set ------

    async def edit_message(self, room_code: str, target_seq: int, text: str, client_message_id: str | None = None) -> Any:
        """Edits your own room message; returns the SendAck of the edit event (PERMISSION_DENIED for another's)."""
        return await self.call(
            "edit_message", room_code=room_code, target_seq=target_seq, client_message_id=client_message_id or str(uuid.uuid4()), text=text
        )

    async def delete_message(self, room_code: str, target_seq: int, client_message_id: str | None = None) -> Any:
        """Deletes your own room message (it stays as a tombstone); returns the SendAck of the delete event."""
        return await self.call("delete_message", room_code=room_code, target_seq=target_seq, client_message_id=client_message_id or str(uuid.uuid4()))

    async def react(self, room_code: str, target_seq: int, emoji: str, add: bool = True, client_message_id: str | None = None) -> Any:
        """Adds (or with add=False removes) your reaction with one emoji; returns the SendAck of the reaction event."""
        return await self.call(
            "react", room_code=room_code, target_seq=target_seq, emoji=emoji, add=add, client_message_id=client_message_id or str(uuid.uuid4())
        )

    async def next_message(self, room_code: str, timeout: float = 10.0, sender: str | None = None) -> Any:
        """The next message pushed in `room_code` (optionally from `sender`)."""
        deadline = time.monotonic() + timeout
        while True:
            message = await self.next_push("message", max(0.01, deadline - time.monotonic()))
            if message.room_code == room_code and (sender is None or message.sender == sender):
                return message

    @property
    def closed(self) -> ConnectionClosed | None:
        return self._closed

    async def close(self) -> None:
        if self._heartbeat:
            self._heartbeat.cancel()
        await self._ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)


class _Connecting:
    def __init__(self, url: str, token: str | None) -> None:
        self._url = url
        self._token = token
        self._client: ChatClient | None = None

    async def __aenter__(self) -> ChatClient:
        self._client = await ChatClient.open(self._url, self._token)
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        if self._client:
            await self._client.close()


def encode_example() -> bytes:
    """The send_message example of docs/protocol.md section 6.3, encoded by the generated code."""
    frame = envelope_pb2.ClientFrame(id=7, send_message={"room_code": "K7QX2M", "client_message_id": "m-1", "text": "hi"})
    return frame.SerializeToString()
