"""Hostile ingest input (audit MEDIUM-6, LOW-3, LOW-10): every bad file is one line naming the file
(and the line where known), never a traceback; nothing outside the knowledge folder is ingested."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import sync
from ingest.check import check
from ingest.cli import cli
from ingest.settings import IndexSettings
from ingest.store import IndexStore, stats
from tests.conftest import HashingEmbeddings
from tests.test_ingest import (
    FRONT,
    SECTION_H,
    SPANISH_ALPHA,
    asked_for,
    sidecar,
    write_doc,
    write_md,
)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "knowledge"
    write_doc(root, "alpha")
    write_doc(root, "alpha", "es", SPANISH_ALPHA)
    return root


@pytest.fixture
def settings(tmp_path: Path) -> IndexSettings:
    return IndexSettings(data_dir=tmp_path / "var")


def _one_line_errors(root: Path, settings: IndexSettings) -> list[str]:
    errors = [str(e) for e in check(root, settings).errors]
    assert all("\n" not in e and "Traceback" not in e for e in errors), errors
    return errors


def _assert_cli_clean(root: Path, settings: IndexSettings, expected: str) -> None:
    """`ingest check` and `ingest build` both name the problem and end with exit code 1."""
    env = {"KYR_DATA_DIR": str(settings.data_dir)}
    for command in (["check", str(root)], ["build", str(root)]):
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 1, (command, result.output)
        assert expected in result.output, (command, result.output)
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), result.exception


def _front(doc_id: str) -> str:
    return FRONT.format(id=doc_id, lang="en", title=doc_id.title())


def test_impossible_date_in_front_matter_names_file_and_line(
    corpus: Path, settings: IndexSettings
) -> None:
    path = write_md(corpus, "baddate", SECTION_H)
    path.write_text(path.read_text("utf-8").replace("2026-11-25", "2026-13-01"), "utf-8")
    line = path.read_text("utf-8").splitlines().index("last_verified: 2026-13-01") + 1
    errors = _one_line_errors(corpus, settings)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path.as_posix()}:{line}: field 'last_verified'")
    assert "date" in errors[0]
    _assert_cli_clean(corpus, settings, f"baddate.md:{line}: field 'last_verified'")


def test_impossible_date_in_a_sidecar_names_the_sidecar(
    corpus: Path, settings: IndexSettings
) -> None:
    notes = corpus / "en" / "notes.txt"
    notes.write_text("## First?\n\nOne.\n", "utf-8")
    meta = notes.with_name("notes.txt.meta.yaml")
    text = sidecar("notes", [{"sources": ["chicago-code"], "asked": asked_for("First?")}])
    meta.write_text(text.replace("2026-11-25", "2026-13-45"), "utf-8")
    line = meta.read_text("utf-8").splitlines().index("last_verified: 2026-13-45") + 1
    errors = _one_line_errors(corpus, settings)
    assert len(errors) == 1 and errors[0].startswith(
        f"{meta.as_posix()}:{line}: field 'last_verified'"
    ), errors
    _assert_cli_clean(corpus, settings, "notes.txt.meta.yaml")


def test_deeply_nested_yaml_is_one_error(corpus: Path, settings: IndexSettings) -> None:
    nested = "[" * 20_000 + "]" * 20_000
    path = write_md(corpus, "nested", SECTION_H, front=_front("nested").replace("[police]", nested))
    path.write_text(path.read_text("utf-8").replace("{", "{{").replace("}", "}}"), "utf-8")
    errors = _one_line_errors(corpus, settings)
    assert len(errors) == 1 and errors[0].startswith(f"{path.as_posix()}"), errors
    assert "nested too deeply" in errors[0]
    _assert_cli_clean(corpus, settings, "nested.md")


def _docx_sidecar(root: Path, name: str) -> None:
    given = [{"sources": ["chicago-code"], "asked": asked_for("Q?")}]
    (root / "en" / f"{name}.docx.meta.yaml").write_text(sidecar(name, given), "utf-8")


def test_random_bytes_named_docx_is_one_error(corpus: Path, settings: IndexSettings) -> None:
    path = corpus / "en" / "junk.docx"
    path.write_bytes(os.urandom(4096))
    _docx_sidecar(corpus, "junk")
    assert _one_line_errors(corpus, settings) == [
        f"{path.as_posix()}: unreadable Word document (not a .docx package)"
    ]
    _assert_cli_clean(corpus, settings, "junk.docx: unreadable Word document")


def test_docx_with_malformed_xml_is_one_error(corpus: Path, settings: IndexSettings) -> None:
    import docx

    good = io.BytesIO()
    document = docx.Document()
    document.add_heading("Q?", level=2)
    document.add_paragraph("Answer.")
    document.save(good)
    path = corpus / "en" / "badxml.docx"
    with (
        zipfile.ZipFile(io.BytesIO(good.getvalue())) as src,
        zipfile.ZipFile(path, "w") as dst,
    ):
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                data = data[: len(data) // 2]  # cut mid-element
            dst.writestr(item, data)
    _docx_sidecar(corpus, "badxml")
    errors = _one_line_errors(corpus, settings)
    assert len(errors) == 1 and errors[0].startswith(
        f"{path.as_posix()}: unreadable Word document"
    ), errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "must be a mapping of fields"),
        ("id: [unclosed\n", "not valid YAML at line 2"),
        (b"\xff\xfe not utf-8", "not valid UTF-8"),
    ],
)
def test_malformed_sidecar_names_the_sidecar(
    corpus: Path, settings: IndexSettings, text: str | bytes, message: str
) -> None:
    (corpus / "en" / "notes.txt").write_text("## First?\n\nOne.\n", "utf-8")
    meta = corpus / "en" / "notes.txt.meta.yaml"
    if isinstance(text, bytes):
        meta.write_bytes(text)
    else:
        meta.write_text(text, "utf-8")
    errors = _one_line_errors(corpus, settings)
    assert len(errors) == 1 and errors[0].startswith(meta.as_posix()) and message in errors[0], (
        errors
    )


def test_symlink_to_a_document_outside_is_refused(
    corpus: Path, tmp_path: Path, settings: IndexSettings
) -> None:
    outside = write_doc(tmp_path / "elsewhere", "outside-doc")
    link = corpus / "en" / "outside-doc.md"
    link.symlink_to(outside)
    report = check(corpus, settings)
    assert [str(e) for e in report.errors] == [
        f"{link.as_posix()}: symlink to a file outside the knowledge folder; refused "
        "(copy the file in if it is vetted)"
    ]
    assert all(d.meta.id != "outside-doc" for d in report.documents)
    with pytest.raises(sync.InvalidDocuments) as sync_error:
        sync.build(settings, corpus)
    assert "outside the knowledge folder" in str(sync_error.value.report.errors[0])


def test_symlinked_sidecar_to_a_secret_is_refused_without_echoing_it(
    corpus: Path, tmp_path: Path, settings: IndexSettings
) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("lang: SECRETLANGVALUE\ntoken: SECRETTOKEN\n", "utf-8")
    (corpus / "en" / "notes.txt").write_text("## First?\n\nOne.\n", "utf-8")
    (corpus / "en" / "notes.txt.meta.yaml").symlink_to(secret)
    errors = _one_line_errors(corpus, settings)
    assert len(errors) == 1 and "outside the knowledge folder" in errors[0], errors
    assert "SECRET" not in errors[0]


def test_dangling_device_and_directory_symlinks_are_reported(
    corpus: Path, tmp_path: Path, settings: IndexSettings
) -> None:
    (corpus / "en" / "gone.md").symlink_to(tmp_path / "does-not-exist.md")
    (corpus / "en" / "zero.md").symlink_to("/dev/zero")
    (tmp_path / "otherdir" / "en").mkdir(parents=True)
    (corpus / "linked").symlink_to(tmp_path / "otherdir", target_is_directory=True)
    os.mkfifo(corpus / "en" / "pipe.md")
    report = check(corpus, settings)
    errors = sorted(str(e) for e in report.errors)
    assert errors == sorted(
        [
            f"{(corpus / 'en' / 'gone.md').as_posix()}: dangling symlink; refused",
            f"{(corpus / 'en' / 'zero.md').as_posix()}: symlink to a file outside the knowledge "
            "folder; refused (copy the file in if it is vetted)",
            f"{(corpus / 'linked').as_posix()}: symlink to a folder outside the knowledge "
            "folder; refused",
            f"{(corpus / 'en' / 'pipe.md').as_posix()}: not a regular file; refused",
        ]
    )


def test_symlink_inside_the_folder_is_followed(corpus: Path, settings: IndexSettings) -> None:
    """A link to a file inside the folder is vetted content like any other."""
    (corpus / "en" / "alias.txt").write_text("## First?\n\nOne.\n", "utf-8")
    (corpus / "shared").mkdir()
    meta_real = corpus / "shared" / "alias.yaml"
    meta_real.write_text(
        sidecar("alias", [{"sources": ["chicago-code"], "asked": asked_for("First?")}]), "utf-8"
    )
    (corpus / "en" / "alias.txt.meta.yaml").symlink_to(meta_real)
    report = check(corpus, settings)
    assert report.ok, [str(e) for e in report.errors]
    assert "alias" in {d.meta.id for d in report.documents}


def test_a_document_with_too_many_chunks_is_refused(corpus: Path, settings: IndexSettings) -> None:
    sections = {f"Question {i}?": f"Answer {i}." for i in range(150)}
    path = write_doc(corpus, "huge", sections=sections)
    errors = _one_line_errors(corpus, settings)
    assert errors == [
        f"{path.as_posix()}: 150 sections make 600 index entries, over the limit of 400 per "
        "document; split it into several documents"
    ]


def test_bad_input_leaves_the_index(corpus: Path, settings: IndexSettings) -> None:
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    before = stats(IndexStore.connect(settings))
    (corpus / "en" / "junk.docx").write_bytes(b"PK\x03\x04 not really a zip")
    _docx_sidecar(corpus, "junk")
    with pytest.raises(sync.InvalidDocuments):
        sync.build(settings, corpus, embedder=HashingEmbeddings())
    assert stats(IndexStore.connect(settings)) == before


# -- the index's own housekeeping (audit LOW-4, LOW-5) ------------------------------------------


def _segment_dirs(settings: IndexSettings) -> set[str]:
    import uuid

    found = set()
    for entry in settings.chroma_dir.iterdir():
        try:
            uuid.UUID(entry.name)
        except ValueError:
            continue
        if entry.is_dir():
            found.add(entry.name)
    return found


def test_builds_leave_no_orphaned_vector_directories(corpus: Path, settings: IndexSettings) -> None:
    """Each build drops the generation before the previous one, and its HNSW folder with it."""
    embedder = HashingEmbeddings()
    for _ in range(5):
        sync.build(settings, corpus, embedder=embedder, rebuild=True)
    store = IndexStore.connect(settings)
    info = store.require_active()
    live = {n for n in store.collection_names() if n.startswith("kyr-2")}
    assert live == {info.collection, info.previous}
    # one vector segment per live collection, nothing left from the three dropped ones
    assert len(_segment_dirs(settings)) == len(live)
    # and both kept generations still answer
    for name in live:
        assert len(store.chunks(info.__class__(**{**info.__dict__, "collection": name}))) > 0


@pytest.mark.server
def test_two_ingests_with_different_data_dirs_exclude_each_other_on_one_server(
    corpus: Path, tmp_path: Path, chroma_server: str
) -> None:
    from ingest.lock import IngestBusy

    prefix = f"l{os.getpid()}x"
    first = IndexSettings(
        data_dir=tmp_path / "a", chroma_url=chroma_server, collection_prefix=prefix
    )
    second = IndexSettings(
        data_dir=tmp_path / "b", chroma_url=chroma_server, collection_prefix=prefix
    )
    store = IndexStore.connect(first)
    with store.ingest_lease("host-a:1:test"):
        with pytest.raises(IngestBusy, match="another ingest is already running"):
            sync.build(second, corpus, embedder=HashingEmbeddings())
        result = CliRunner().invoke(
            cli,
            ["build", str(corpus)],
            env={
                "KYR_DATA_DIR": str(second.data_dir),
                "KYR_CHROMA_URL": chroma_server,
                "KYR_COLLECTION_PREFIX": prefix,
            },
        )
        assert result.exit_code == 1 and "another ingest is already running" in result.output
    # released: the second ingest now runs
    assert sync.build(second, corpus, embedder=HashingEmbeddings()).info is not None


@pytest.mark.server
def test_an_expired_or_dead_lease_is_taken_over(
    corpus: Path, tmp_path: Path, chroma_server: str
) -> None:
    import socket

    prefix = f"e{os.getpid()}x"
    settings = IndexSettings(
        data_dir=tmp_path / "a", chroma_url=chroma_server, collection_prefix=prefix
    )
    store = IndexStore.connect(settings)
    # a lease whose time ran out (its holder was killed on another host)
    store.client.create_collection(
        store.lock_name,
        embedding_function=None,
        metadata={"kind": "lock", "owner": "other-host:1:x", "expires": 1.0},
    )
    assert sync.build(settings, corpus, embedder=HashingEmbeddings()).info is not None
    # a live lease from this host whose process is gone (kill -9)
    dead = subprocess_pid_that_exited()
    store.client.create_collection(
        store.lock_name,
        embedding_function=None,
        metadata={
            "kind": "lock",
            "owner": f"{socket.gethostname()}:{dead}:x",
            "expires": 9e12,
        },
    )
    assert sync.build(settings, corpus, embedder=HashingEmbeddings(), rebuild=True).info
    assert store.lock_name not in store.collection_names()


def subprocess_pid_that_exited() -> int:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_a_damaged_embedded_index_says_how_to_repair_it(
    corpus: Path, settings: IndexSettings
) -> None:
    """Audit LOW-6: garbled pages in chroma.sqlite3 give an error that says what to do."""
    sync.build(settings, corpus, embedder=HashingEmbeddings())
    db = settings.chroma_dir / "chroma.sqlite3"
    data = bytearray(db.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 65536] = os.urandom(min(65536, len(data) - middle))
    db.write_bytes(bytes(data))
    env = {"KYR_DATA_DIR": str(settings.data_dir)}
    failed = 0
    for command in (["stats"], ["build", str(corpus), "--rebuild"]):
        result = CliRunner().invoke(cli, command, env=env)
        if result.exit_code == 0:
            continue  # chroma healed itself from its log: nothing to repair
        failed += 1
        assert "Traceback" not in result.output
        assert f"move {settings.chroma_dir} aside" in result.output, result.output
    assert failed


def test_a_symlink_loop_inside_the_folder_ends(corpus: Path, settings: IndexSettings) -> None:
    (corpus / "en" / "loop").symlink_to(corpus, target_is_directory=True)
    report = check(corpus, settings)
    assert report.ok, [str(e) for e in report.errors]
    assert sorted(d.key for d in report.documents) == ["en/alpha", "es/alpha"]


@pytest.mark.server
def test_a_build_whose_lease_was_taken_over_does_not_move_the_pointer(
    corpus: Path, tmp_path: Path, chroma_server: str
) -> None:
    from ingest.lock import IngestBusy

    settings = IndexSettings(
        data_dir=tmp_path / "a", chroma_url=chroma_server, collection_prefix=f"t{os.getpid()}o"
    )
    first = sync.build(settings, corpus, embedder=HashingEmbeddings())
    assert first.info is not None
    store = IndexStore.connect(settings)

    class Thief(HashingEmbeddings):
        """While this build embeds, another host takes its lease (as after a long stall)."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            if store.lock_name in store.collection_names():
                store.client.delete_collection(store.lock_name)
                store.client.create_collection(
                    store.lock_name,
                    embedding_function=None,
                    metadata={"kind": "lock", "owner": "other-host:1:x", "expires": 9e12},
                )
            return super().embed_documents(texts)

    with pytest.raises(IngestBusy, match="taken over"):
        sync.build(settings, corpus, embedder=Thief(), rebuild=True)
    assert store.require_active() == first.info
    store.client.delete_collection(store.lock_name)
