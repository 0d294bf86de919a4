"""``skyferry books ...`` as a user runs it, against ``skyferry serve`` in another process."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ebooklib import ITEM_DOCUMENT, epub

from tests.e2e.processes import SKYFERRY, skyferry_env, start, stop, wait_http
from tests.servers import free_port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A laptop-style server (embedded worker, SQLite); yields the CLI's environment."""
    port = free_port()
    env = skyferry_env(
        tmp_path,
        f"sqlite:///{tmp_path}/db/skyferry.db",
        SKYFERRY_SERVICES="books",
        SKYFERRY_BOOKS__OFFLINE_SECONDS_PER_CHAPTER="0.1",
    )
    process = start(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}", process)
        yield {**env, "SKYFERRY_API_URL": f"http://127.0.0.1:{port}", "COLUMNS": "120"}
    finally:
        stop(process)


def books(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SKYFERRY, "books", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_new_waits_with_a_progress_bar_and_writes_the_epub(
    server: dict[str, str], tmp_path: Path
) -> None:
    refused = books(server, tmp_path, "new", "Tide pools", "-o", "book.pdf")
    assert refused.returncode == 2
    assert ".md, .txt or .epub" in refused.stderr
    assert refused.stdout == ""  # refused before anything was submitted

    done = books(server, tmp_path, "new", "Tide pools", "--chapters", "5", "--wait", "-o", "b.epub")
    assert done.returncode == 0, done.stderr
    book_id = done.stdout.strip()
    assert len(book_id) == 32
    assert "7/7" in done.stderr  # the bar's last frame: outline, 5 chapters, assembly
    assert "5 chapters" in done.stderr
    document = epub.read_epub(io.BytesIO((tmp_path / "b.epub").read_bytes()), {"ignore_ncx": True})
    chapters = [i for i in document.get_items_of_type(ITEM_DOCUMENT) if "chapter" in i.file_name]
    assert len(chapters) == 5
    assert not list(tmp_path.glob(".*.part"))

    again = books(server, tmp_path, "download", book_id, "-o", "out/b.md")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out" / "b.md").read_text().startswith("# ")
    shown = json.loads(books(server, tmp_path, "show", book_id).stdout)
    assert shown["status"] == "succeeded"
    listed = books(server, tmp_path, "ls")
    assert listed.stdout.count("succeeded") == 1  # the refused book never reached the server
    assert book_id[:10] in listed.stdout
    assert books(server, tmp_path, "delete", book_id).stdout.strip() == "deleted"
    missing = books(server, tmp_path, "show", book_id)
    assert missing.returncode == 1
    assert "404" in missing.stderr
