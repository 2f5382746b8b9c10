"""Class tables: DCASE order, slugs and the ASA2 id mapping."""

from __future__ import annotations

import numpy as np
import pytest

from asabench.simulate.classes import (
    ASA2_CLASSES,
    ASA2_TO_DCASE_ORDER,
    CLASS_SLUGS,
    DCASE_CLASSES,
    asa2_to_dcase,
    class_index,
    dcase_to_asa2,
)


def test_dcase_order_matches_starss23() -> None:
    assert len(DCASE_CLASSES) == 13 and len(CLASS_SLUGS) == 13
    assert DCASE_CLASSES[0] == "female speech"
    assert DCASE_CLASSES[3] == "telephone"
    assert DCASE_CLASSES[8] == "music"
    assert DCASE_CLASSES[12] == "knock"
    assert len(set(CLASS_SLUGS)) == 13


def test_asa2_mapping_is_a_bijection_and_inverse() -> None:
    k = np.arange(13)
    i = dcase_to_asa2(k)
    assert sorted(i.tolist()) == list(range(13))
    np.testing.assert_array_equal(asa2_to_dcase(i), k)
    np.testing.assert_array_equal(dcase_to_asa2(asa2_to_dcase(k)), k)
    np.testing.assert_array_equal(i, ASA2_TO_DCASE_ORDER)


def test_asa2_mapping_preserves_names() -> None:
    for k, name in enumerate(DCASE_CLASSES):
        assert ASA2_CLASSES[dcase_to_asa2(k)] == name
    for i, name in enumerate(ASA2_CLASSES):
        assert DCASE_CLASSES[asa2_to_dcase(i)] == name
    # Spot checks from the authors' directory order.
    assert dcase_to_asa2(0) == 10  # female speech
    assert asa2_to_dcase(0) == 5  # domestic sounds
    assert asa2_to_dcase(12) == 3  # telephone


def test_mapping_is_vectorised_and_shape_preserving() -> None:
    ids = np.array([[0, 12], [5, 7]])
    out = dcase_to_asa2(ids)
    assert out.shape == (2, 2)
    np.testing.assert_array_equal(out, [[10, 7], [0, 9]])
    assert isinstance(dcase_to_asa2(np.int64(3)), int)


def test_mapping_rejects_bad_ids() -> None:
    with pytest.raises(ValueError, match="range"):
        dcase_to_asa2(np.array([0, 13]))
    with pytest.raises(TypeError, match="integers"):
        asa2_to_dcase(np.array([0.5]))


@pytest.mark.parametrize(
    "spelling, expected",
    [("female speech", 0), ("FemaleSpeech", 0), ("female_speech", 0), ("walk/footsteps", 6), ("footsteps", 6),
     ("door open or close", 7), ("musicalInstrument", 9), ("water-tap", 10), (11, 11), ("4", 4)],
)
def test_class_index_accepts_names_slugs_aliases(spelling: str | int, expected: int) -> None:
    assert class_index(spelling) == expected


def test_class_index_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown class 'cat'"):
        class_index("cat")
    with pytest.raises(ValueError, match="out of range"):
        class_index(13)
