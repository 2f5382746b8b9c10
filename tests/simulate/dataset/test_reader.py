"""DatasetReader: the one dataset reader behind SceneDataset and the scorer."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from asabench.benchmark.scoring import load_reference, score
from asabench.simulate.dataset.format import DatasetFormatError
from asabench.simulate.dataset.labels_csv import read_label_csv
from asabench.simulate.dataset.loader import SceneDataset
from asabench.simulate.dataset.reader import DatasetReader, SceneItem
from asabench.simulate.testing.dummies import make_dummy_dataset

FS = 8000


@pytest.fixture()
def dataset(tmp_path):
    root = tmp_path / "ds"
    records = make_dummy_dataset(root, 3, [2, 1, 3], FS, 0.5, np.random.default_rng(3))
    return root, records


def _poke(path, channel, sample, value):
    audio, fs = sf.read(str(path), dtype="float32", always_2d=True)
    audio[sample, channel] = value
    sf.write(str(path), audio, fs, subtype="FLOAT")


def test_items_and_labels_of_the_asabench_layout(dataset):
    root, records = dataset
    reader = DatasetReader(root)
    items = reader.items()
    assert reader.layout == "asabench" and reader.fs == FS and reader.num_channels == 4
    assert [i.id for i in items] == [r.id for r in records] and items[2].num_sources == 3
    assert items[0] == SceneItem.from_record(records[0])
    frame, cls, track, az, el, dist = reader.label_rows(items[2])
    rows = read_label_csv(root / records[2].files.labels.path)
    np.testing.assert_array_equal(np.stack([frame, cls, track, az, el], 1), rows[:, :5])
    np.testing.assert_array_equal(dist, rows[:, 5].astype(np.float32) / 100)  # cm -> m
    assert dist.dtype == np.float32 and rows[0, 5] >= 30
    assert reader.items({"train"}) == []


def test_index_path_leaving_the_folder_through_a_symlink_is_refused(dataset, tmp_path):
    root, records = dataset
    outside = tmp_path / "elsewhere"
    shutil.copytree(root / "test" / "test-000001" / "direct", outside)
    shutil.rmtree(root / "test" / "test-000001" / "direct")
    (root / "test" / "test-000001" / "direct").symlink_to(outside, target_is_directory=True)
    expected = (rf"index\.jsonl: field 'files\.direct\[0\]\.path': scene test-000001: path "
                rf"'test/test-000001/direct/0\.wav' leaves its root")
    with pytest.raises(DatasetFormatError, match=expected):
        SceneDataset(root)[1]
    assert SceneDataset(root, targets=False)[1]["mixture"].shape == (4, 4000)  # the rest is fine
    with pytest.raises(DatasetFormatError, match=expected):
        score(root, "uss", oracle="mixture", spatial=False)


def test_absolute_index_path_is_refused_before_opening(dataset, tmp_path):
    root, records = dataset
    secret = tmp_path / "secret.wav"
    shutil.copy(root / records[0].files.mixture.path, secret)
    reader = DatasetReader(root)
    for bad, why in ((str(secret), "is absolute"), ("../secret.wav", "leaves its root"),
                     ("C:/x.wav", "is absolute")):
        with pytest.raises(DatasetFormatError, match=rf"index\.jsonl: field 'files\.mixture\.path': "
                                                      rf"scene s: path .* {why}"):
            reader.read_audio(bad, "files.mixture.path", scene="s")
    index = root / "index.jsonl"
    lines = index.read_text().splitlines()
    obj = json.loads(lines[0])
    obj["files"]["mixture"]["path"] = str(secret)
    lines[0] = json.dumps(obj)
    index.write_text("\n".join(lines) + "\n")
    for open_it in (lambda: SceneDataset(root), lambda: load_reference(root)):
        with pytest.raises(DatasetFormatError, match=r"index\.jsonl:1: field 'files\.mixture\.path'"):
            open_it()


def test_nan_in_a_dataset_file_names_file_sample_and_channel(dataset):
    root, records = dataset
    victim = root / records[2].files.reverb[1].path
    _poke(victim, 3, 123, np.nan)
    with pytest.raises(DatasetFormatError) as err:
        SceneDataset(root)[2]
    assert str(err.value) == (f"{victim.resolve()}: field 'samples': 1 NaN/inf sample value(s), first at "
                              "sample 123 (channel 3, NaN)")
    SceneDataset(root)[1]  # other scenes still load


def test_source_image_shorter_than_the_mixture_is_named(dataset):
    root, records = dataset
    victim = root / records[0].files.direct[1].path
    audio, fs = sf.read(str(victim), dtype="float32")
    sf.write(str(victim), audio[:-5], fs, subtype="FLOAT")
    with pytest.raises(DatasetFormatError, match=r"direct/1\.wav: field 'length': 3995 samples, expected 4000"):
        SceneDataset(root)[0]
    with pytest.raises(DatasetFormatError, match=r"direct/1\.wav: field 'length': 3995 samples, expected 4000"):
        score(root, "uss", oracle="targets", spatial=False)


def test_mixture_header_checked_when_the_reference_is_loaded(dataset):
    root, records = dataset
    victim = root / records[1].files.mixture.path
    audio, _ = sf.read(str(victim), dtype="float32")
    sf.write(str(victim), audio, 16000, subtype="FLOAT")
    with pytest.raises(DatasetFormatError, match=r"mixture\.wav: field 'fs': sample rate 16000 Hz, expected 8000 Hz"):
        load_reference(root)
