"""The one bank opener: paths read from specs and bank indexes never leave their root.

A spec's source ids and a prepared index's entries are confined to the bank root before
any file is opened or hashed; the error names the file the path came from and the field.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.dataset.build import render_spec_to
from asabench.simulate.io.files import PathConfinementError, sha256_file
from asabench.simulate.manifest import parse_manifest
from asabench.simulate.scene.sampling import sample_scene
from asabench.simulate.sources.base import SourceError
from asabench.simulate.sources.folder import FolderBank
from asabench.simulate.sources.open import open_banks
from asabench.simulate.sources.prepare import prepare

ROOT = Path(__file__).resolve().parents[3]


def _manifest():
    raw = tomllib.loads((ROOT / "manifests" / "demo.toml").read_text())
    raw.update(fs=8000, duration_s=1.0)
    raw["motion"].update(n_points=10)
    raw["noise"].update(window=320, hop=160)
    raw["sources"].update(classes=[0, 1])
    return parse_manifest(raw, "<test manifest>")


@pytest.fixture()
def setup(tmp_path: Path):
    """A corpus, its index, a spec drawn from it, and a valid WAV outside the corpus."""
    rng = np.random.default_rng(3)
    corpus = tmp_path / "bank" / "corpus"
    for name in ("femaleSpeech", "maleSpeech"):
        for i in range(2):
            path = corpus / name / f"{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, 0.1 * rng.standard_normal(8000).astype(np.float32), 8000)
    index = tmp_path / "bank" / "index.json"
    prepare(corpus, "classfolders", index)
    secret = tmp_path / "secret.wav"
    sf.write(secret, 0.1 * rng.standard_normal(8000).astype(np.float32), 8000)
    m = _manifest()
    banks = open_banks(m, sources=str(index))
    spec, _, _ = sample_scene(m, "test", 0, banks.sources, banks.noise, load_clips=False,
                              bank_info=banks.describe())
    obj = spec.to_dict()
    return tmp_path, corpus, index, secret, obj


def _opens(monkeypatch, target: Path) -> list[str]:
    """Record every open/hash/decode of ``target`` (however it is named)."""
    seen: list[str] = []
    real = target.resolve()

    def hit(p) -> bool:
        try:
            return not isinstance(p, (int, io.IOBase)) and Path(p).resolve() == real
        except (TypeError, OSError):
            return False

    def wrap(fn):
        def inner(file, *a, **k):
            if hit(file):
                seen.append(str(file))
            return fn(file, *a, **k)
        return inner

    monkeypatch.setattr(builtins, "open", wrap(builtins.open))
    monkeypatch.setattr(io, "open", wrap(io.open))
    real_path_open = Path.open

    def path_open(self, *a, **k):
        if hit(self):
            seen.append(str(self))
        return real_path_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", path_open)
    monkeypatch.setattr(sf, "read", wrap(sf.read))
    monkeypatch.setattr(sf, "SoundFile", wrap(sf.SoundFile))
    import asabench.simulate.io.files as files

    monkeypatch.setattr(files, "sha256_file", wrap(files.sha256_file))
    return seen


def _point_at(obj: dict, k: int, file_id: str, secret: Path) -> None:
    # The ref is made to match the outside file exactly, so only confinement can stop it.
    ref = obj["sources"][k]["file"]
    ref.update(id=file_id, sha256=sha256_file(secret), frames=8000, fs=8000)


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_render_refuses_a_source_id_leaving_the_bank_and_never_opens_it(setup, monkeypatch, how):
    tmp_path, corpus, index, secret, obj = setup
    if how == "dotdot":
        file_id = "../../secret.wav"
    elif how == "absolute":
        file_id = str(secret)
    else:
        os.symlink(secret, corpus / "femaleSpeech" / "link.wav")
        file_id = "femaleSpeech/link.wav"
    k = len(obj["sources"]) - 1
    _point_at(obj, k, file_id, secret)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(obj), encoding="utf-8")
    seen = _opens(monkeypatch, secret)
    with pytest.raises(PathConfinementError) as err:
        render_spec_to(spec_path, tmp_path / "out")
    msg = str(err.value)
    assert msg.startswith(f"{spec_path}: field 'sources[{k}].file.id': path {file_id!r}"), msg
    assert seen == []
    assert not (tmp_path / "out").exists()


def test_render_refuses_etc_passwd_without_opening_it(setup, monkeypatch):
    tmp_path, corpus, index, secret, obj = setup
    obj["sources"][0]["file"].update(id="/etc/passwd", sha256="0" * 64)
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(obj), encoding="utf-8")
    seen = _opens(monkeypatch, Path("/etc/passwd"))
    for relocated in (None, str(index)):  # the recorded bank and a --sources bank alike
        with pytest.raises(PathConfinementError,
                           match=r"spec\.json: field 'sources\[0\]\.file\.id': path '/etc/passwd' is absolute"):
            render_spec_to(spec_path, tmp_path / "out", sources=relocated)
    assert seen == []


def test_folder_bank_load_confines_a_ref_id(setup, monkeypatch):
    tmp_path, corpus, index, secret, obj = setup
    from asabench.simulate.sources.base import SourceRef

    bank = FolderBank(index)
    ref = SourceRef("folder", "../../secret.wav", 0, 8000, 8000, sha256_file(secret))
    seen = _opens(monkeypatch, secret)
    with pytest.raises(PathConfinementError, match="leaves its root"):
        bank.load(ref, 8000)
    assert seen == []


def _edit_index(index: Path, edit) -> None:
    record = json.loads(index.read_text())
    edit(record)
    index.write_text(json.dumps(record))


@pytest.mark.parametrize("field, value", [
    ("path", "../../secret.wav"), ("path", "/etc/passwd"), ("path", ""), ("path", 5),
    ("frames", -1), ("fs", "8000"), ("sha256", "xyz"), ("channel", -2),
])
def test_bad_index_entry_is_refused_naming_index_and_entry(setup, field, value):
    tmp_path, corpus, index, secret, obj = setup
    _edit_index(index, lambda r: r["entries"][1].__setitem__(field, value))
    with pytest.raises(SourceError) as err:
        FolderBank(index)
    assert str(err.value).startswith(f"{index.resolve()}: field 'entries[1].{field}':"), str(err.value)


def test_garbled_index_files_are_refused_cleanly(setup):
    tmp_path, corpus, index, secret, obj = setup
    _edit_index(index, lambda r: r.__setitem__("entries", {"a": 1}))
    with pytest.raises(SourceError, match="field 'entries': expected a list"):
        FolderBank(index)
    _edit_index(index, lambda r: r.__setitem__("entries", [["x"]]))
    with pytest.raises(SourceError, match=r"field 'entries\[0\]': expected an object"):
        FolderBank(index)
    index.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SourceError, match="not a valid JSON index"):
        FolderBank(index)


def test_prepare_confines_paths_of_a_user_table(tmp_path: Path, monkeypatch):
    rng = np.random.default_rng(5)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sf.write(corpus / "a.wav", 0.1 * rng.standard_normal(8000).astype(np.float32), 8000)
    secret = tmp_path / "secret.wav"
    sf.write(secret, 0.1 * rng.standard_normal(8000).astype(np.float32), 8000)
    table = corpus / "index.csv"
    table.write_text("path,class\na.wav,femaleSpeech\n../secret.wav,maleSpeech\n", encoding="utf-8")
    seen = _opens(monkeypatch, secret)
    report = prepare(corpus, "index", tmp_path / "idx.json")
    assert [e["path"] for e in report.entries] == ["a.wav"]
    assert [b.path for b in report.bad] == ["../secret.wav"]
    assert f"{table}: field 'path': path '../secret.wav' leaves its root" in report.bad[0].reason
    with pytest.raises(SourceError, match="leaves its root"):
        prepare(corpus, "index", tmp_path / "idx2.json", on_bad="error")
    assert not (tmp_path / "idx2.json").exists()
    assert seen == []


def test_a_clip_rewritten_after_its_hash_is_never_decoded(setup, monkeypatch):
    # The hash is taken of the bytes that are decoded: a file swapped between the check
    # and the read cannot pass as the indexed one.
    tmp_path, corpus, index, secret, obj = setup
    bank = FolderBank(index)
    ref = bank.files(0)[0]
    path = corpus / ref.id
    original = path.read_bytes()
    good = bank.load(ref, 8000)
    import asabench.simulate.sources.folder as folder

    calls = {"n": 0}
    real_hash = folder.sha256_bytes

    def hash_then_swap(data: bytes) -> str:
        calls["n"] += 1
        path.write_bytes(secret.read_bytes())  # the file changes right after it was read
        return real_hash(data)

    monkeypatch.setattr(folder, "sha256_bytes", hash_then_swap)
    again = bank.load(ref, 8000)
    assert calls["n"] == 1
    np.testing.assert_array_equal(again, good)  # decoded from the hashed bytes, not the new file
    monkeypatch.undo()
    with pytest.raises(SourceError, match="content changed since it was indexed"):
        bank.load(ref, 8000)
    path.write_bytes(original)
    np.testing.assert_array_equal(bank.load(ref, 8000), good)


def test_every_bank_opener_is_the_open_module():
    import asabench.simulate.dataset.build as build
    import asabench.simulate.sources as sources
    import asabench.simulate.sources.open as opener

    assert build.open_banks is opener.open_banks
    assert build.open_banks_for_spec is opener.open_banks_for_spec
    assert build.Banks is opener.Banks
    assert sources.bank_from_description is opener.bank_from_description
    for name in ("_builtin", "_folder", "_open"):
        assert not hasattr(build, name)


def test_user_table_rows_without_a_path_or_class_are_named(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sf.write(corpus / "a.wav", 0.1 * np.ones(8000, dtype=np.float32), 8000)
    table = corpus / "index.csv"
    table.write_text("path,class\na.wav,femaleSpeech\n,maleSpeech\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"index\.csv: line 3: field 'path': expected a file path, got ''"):
        prepare(corpus, "index", tmp_path / "idx.json")
    assert not (tmp_path / "idx.json").exists()
    table.write_text("path,class\na.wav\n", encoding="utf-8")  # a short row: no class
    report = prepare(corpus, "index", tmp_path / "idx.json")
    assert report.entries == [] and dict(report.unmapped) == {"index.csv: unknown class None": 1}


def test_user_table_that_is_not_text_is_named(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "index.json").write_bytes(b"\xff\xfe\x00[")
    with pytest.raises(ValueError, match=r"index\.json: not a readable json table"):
        prepare(corpus, "index", tmp_path / "idx.json")
