"""Slack's file upload, newer than the 2020 spec: files.getUploadURLExternal hands out an upload
URL and a file id, the bytes are POSTed to that URL (``Workspace.receive_upload``), and
files.completeUploadExternal shares the files, with their titles, in a channel."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from typing import Any

from bot.slack.standin.records import ApiError, File, ids, json_arg, present
from bot.slack.standin.state import Handler, Workspace

UPLOAD_PATH = "/upload/"


def files_getUploadURLExternal(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    ws.need_scope("files:write")
    try:
        length = int(str(params["length"]))
    except ValueError:
        raise ApiError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] length must be an integer"]}
        ) from None
    if length <= 0:
        raise ApiError("missing_argument")  # Slack's answer to length 0
    file = File(ws.new_id("F"), str(params["filename"]), length)
    ws.files[file.id] = file
    return {"upload_url": ws.local_url(UPLOAD_PATH + file.id), "file_id": file.id}


def files_completeUploadExternal(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    ws.need_scope("files:write")
    wanted = json_arg(params["files"], "files")
    if not isinstance(wanted, list) or not all(isinstance(f, dict) and f.get("id") for f in wanted):
        raise ApiError("invalid_arguments", response_metadata={"messages": ["[ERROR] files: [{id, title}]"]})
    files = []
    for entry in wanted:
        file = ws.files.get(str(entry["id"]))
        if file is None or file.content is None or file.completed:
            raise ApiError("file_not_found")  # never uploaded, bytes not sent, or already shared
        files.append((file, str(entry.get("title") or file.name)))
    targets = ids(params.get("channel_id") or params.get("channels") or "")
    channels = [ws.writable_channel(c) for c in targets]  # channel_not_found, is_archived, not_in_channel
    for file, title in files:
        file.title, file.completed = title, True
        file.channels = [c.id for c in channels]
    for channel in channels:
        message = ws.bot_message(
            {"text": params.get("initial_comment") or "", "thread_ts": params.get("thread_ts")}
        )
        message["files"] = [file.to_api() for file, _ in files]
        if present(params.get("blocks")) and not present(params.get("initial_comment")):
            message["blocks"] = json_arg(params["blocks"], "blocks")  # Slack ignores blocks beside a comment
        channel.messages.append(message)
    return {"files": [{"id": file.id, "title": file.title} for file, _ in files]}


def receive_upload(ws: Workspace, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    """A POST to an upload URL: keep the bytes (a multipart form's file part, or the raw body)
    and answer as Slack's upload service does."""
    with ws._lock:
        file = ws.files.get(path[len(UPLOAD_PATH) :])
        if file is None or file.completed:
            return 404, "file not found"
        content = _multipart_file(body, content_type) if content_type.startswith("multipart/") else body
        file.content = content
        return 200, f"OK - {len(content)}"


def _multipart_file(body: bytes, content_type: str) -> bytes:
    """The first part of a multipart/form-data body that carries a filename (else the first part)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    parts = [p for p in message.iter_parts()] if message.is_multipart() else []
    chosen = next((p for p in parts if p.get_filename()), parts[0] if parts else None)
    payload = chosen.get_payload(decode=True) if chosen is not None else body
    return payload if isinstance(payload, bytes) else body


#: Method name -> implementation (called with the workspace lock held, after the checks).
HANDLERS: dict[str, Handler] = {
    "files.getUploadURLExternal": files_getUploadURLExternal,
    "files.completeUploadExternal": files_completeUploadExternal,
}
