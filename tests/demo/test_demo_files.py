"""The demo page's `/files/<id>`: a file Baton shared through the stand-in
(files.getUploadURLExternal, the bytes, files.completeUploadExternal), served to the page only,
as an image when its bytes are a PNG, else only as a download."""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.app.demo.page import Demo
from bot.app.demo.server import PageServer
from bot.slack.chat import Chat, make_client
from bot.slack.standin import GENERAL_ID, FakeSlack


def tiny_png() -> bytes:
    """A 1x1 PNG, written out by hand (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@dataclass
class Page:
    fake: FakeSlack
    chat: Chat
    url: str
    port: int


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with FakeSlack() as fake:
        server = PageServer(("127.0.0.1", 0))
        port = server.server_address[1]
        # No Baton behind it: only what the stand-in holds is read here.
        server.demo = Demo(
            fake,
            "http://127.0.0.1:9",
            "secret",
            [],
            groups={},
            db_url=f"sqlite:///{tmp_path / 'none.db'}",
            speed=1,
            origin=time.time(),
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Page(
                fake,
                Chat(make_client(token=fake.bot_token, base_url=fake.url)),
                f"http://127.0.0.1:{port}",
                port,
            )
        finally:
            server.shutdown_quietly()
            thread.join(timeout=10)


def test_a_shared_png_is_served_as_an_image_and_shown_in_its_message(page: Page) -> None:
    png = tiny_png()
    file_id = page.chat.upload_file(
        GENERAL_ID, filename="drill-1-timeline.png", content=png, title="DRILL · #1 response window"
    )

    got = httpx.get(f"{page.url}/files/{file_id}", timeout=10)
    assert got.status_code == 200
    assert got.content == png
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in got.headers
    # The page may load its own images, and only those: no data:, nothing from elsewhere.
    csp = got.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src 'self';" in csp and "data:" not in csp

    # /state names the file on its message: its id, its title, and that it is an image.
    state = httpx.get(f"{page.url}/state", timeout=10).json()
    general = next(c for c in state["channels"] if c["id"] == GENERAL_ID)
    shared = [m for m in general["messages"] if m.get("files")]
    assert shared[-1]["files"] == [{"id": file_id, "title": "DRILL · #1 response window", "image": True}]


def test_a_file_that_is_not_a_png_is_only_a_download_whatever_its_name(page: Page) -> None:
    html = b"<html><script>alert(1)</script></html>"
    file_id = page.chat.upload_file(GENERAL_ID, filename="picture.png", content=html, title="not a picture")

    got = httpx.get(f"{page.url}/files/{file_id}", timeout=10)
    assert got.status_code == 200 and got.content == html
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"] == "attachment"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    general = httpx.get(f"{page.url}/state", timeout=10).json()["channels"]
    files = [f for c in general for m in c["messages"] for f in m.get("files", [])]
    assert files == [{"id": file_id, "title": "not a picture", "image": False}]


def test_unknown_unshared_and_malformed_ids_are_not_found(page: Page) -> None:
    # An upload URL handed out and the bytes sent, but never shared: Slack shows it nowhere.
    got = page.chat.client.files_getUploadURLExternal(filename="x.png", length=3)
    assert httpx.post(got["upload_url"], content=b"abc", timeout=10).status_code == 200
    for path in (
        f"/files/{got['file_id']}",
        "/files/F0FK999999",
        "/files/f0fk000001",
        "/files/",
        "/files/F1/x",
    ):
        resp = httpx.get(f"{page.url}{path}", timeout=10)
        assert resp.status_code == 404, path
        assert resp.headers["Content-Type"] == "application/json"


def test_a_file_asked_for_under_another_host_name_is_refused(page: Page) -> None:
    file_id = page.chat.upload_file(GENERAL_ID, filename="t.png", content=tiny_png(), title="t")
    url = f"{page.url}/files/{file_id}"
    # A DNS name rebound to 127.0.0.1 gets nothing: the same Host check as /state.
    rebound = httpx.get(url, headers={"Host": f"attacker.example:{page.port}"}, timeout=10)
    assert rebound.status_code == 403 and rebound.content != tiny_png()
    other_port = httpx.get(url, headers={"Host": f"127.0.0.1:{page.port + 1}"}, timeout=10)
    assert other_port.status_code == 403
    assert httpx.get(url, headers={"Host": f"localhost:{page.port}"}, timeout=10).status_code == 200
