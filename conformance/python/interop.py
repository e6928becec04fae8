"""The Python half of the interop test (conformance/src/interop.ts drives it and plays the TypeScript half).

Registers a user, joins the room whose code it is given, says hello, waits for the TypeScript client's
reply, then acts on messages (edits its hello, reacts to the reply, replies to it with a quote), exchanges files
(uploads one and sends it attached, downloads the one the TypeScript client attaches), stays connected for --stay-ms on nothing but its own heartbeat and finally says it is still
there. Every step is printed as one JSON line on stdout for the driver; exit status 0 means every step
worked.

    python interop.py --url ws://127.0.0.1:8080/ws --room K7QX2M --name py-1234 --peer ts-1234 --stay-ms 3500
    python interop.py --selftest    # the encoder example of docs/protocol.md section 6.3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from chat_client import ChatClient, encode_example

EXAMPLE_HEX = "08 07 f2 01 11 0a 06 4b 37 51 58 32 4d 12 03 6d 2d 31 1a 02 68 69"


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def run(args: argparse.Namespace) -> int:
    async with ChatClient.connect(args.url) as chat:
        auth = await chat.register(args.name, "python-password-1")
        emit("registered", username=auth.username, heartbeat_interval_ms=auth.heartbeat_interval_ms, heartbeat_timeout_ms=auth.heartbeat_timeout_ms)

        joined = await chat.join_room(args.room)
        emit("joined", room=joined.room.code, members=[m.username for m in joined.members], last_seq=joined.last_seq)

        ack = await chat.send_message(joined.room.code, "hello from python")
        emit("sent", seq=ack.seq, duplicate=ack.duplicate)

        hello_seq = ack.seq
        reply = await chat.next_message(joined.room.code, timeout=10, sender=args.peer)
        emit("received", seq=reply.seq, sender=reply.sender, text=reply.text)

        # Message actions: edit our own hello, react to the TypeScript message, reply to it.
        edit = await chat.edit_message(joined.room.code, hello_seq, "hello from python (edited)")
        reaction = await chat.react(joined.room.code, reply.seq, "👍")
        answer = await chat.send_message(joined.room.code, "a reply from python", reply_to_seq=reply.seq)
        emit("acted", edit_seq=edit.seq, reaction_seq=reaction.seq, reply_seq=answer.seq, target_seq=hello_seq, replied_to=reply.seq)

        # Files: upload one and attach it (no text), then download the one the TypeScript client attaches.
        upload = await chat.upload_file(b"a file from python\n", "from-python.txt")
        sent = await chat.send_message(joined.room.code, "", attachment_ids=[upload["id"]])
        emit("attached", id=upload["id"], seq=sent.seq, size=upload["sizeBytes"], media_type=upload["mediaType"])
        incoming = await chat.next_message(joined.room.code, timeout=10, sender=args.peer)
        files = list(incoming.attachments)
        data = await chat.download(files[0].id) if files else b""
        emit("downloaded", name=files[0].file_name if files else "", text=data.decode("utf-8", "replace"))

        # Nothing but the heartbeat task talks to the server now, for several heartbeat timeouts.
        started = time.monotonic()
        await asyncio.sleep(args.stay_ms / 1000)
        if chat.closed:
            emit("dropped", code=chat.closed.code)
            return 1
        emit("alive", after_ms=int((time.monotonic() - started) * 1000), pongs=chat.pongs)

        ack = await chat.send_message(joined.room.code, "still here")
        emit("sent", seq=ack.seq, duplicate=ack.duplicate)
        emit("done")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--room")
    parser.add_argument("--name")
    parser.add_argument("--peer")
    parser.add_argument("--stay-ms", type=int, default=3500)
    parser.add_argument("--selftest", action="store_true")
    args = parser.parse_args()
    if args.selftest:
        got = encode_example().hex(" ")
        emit("selftest", ok=got == EXAMPLE_HEX, bytes=got)
        return 0 if got == EXAMPLE_HEX else 1
    if not (args.url and args.room and args.name and args.peer):
        parser.error("--url, --room, --name and --peer are required")
    try:
        return asyncio.run(run(args))
    except Exception as e:  # noqa: BLE001 - reported to the driver as a failed step
        emit("error", error=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
