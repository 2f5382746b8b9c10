"""System cards: every problem named with the card file and the field; the example card loads."""

from __future__ import annotations

import pytest

from asabench.benchmark.submissions.card import CardError, load_card, validate_card

GOOD = {"name": "S", "authors": [{"name": "A", "email": "a@b.org"}], "affiliation": "L",
        "description": "d", "licence": "MIT"}


def test_the_example_card_loads_with_its_values(example_card):
    card = load_card(example_card)
    assert card.name == "Split evenly (example)"
    assert card.authors[0].email == "ada@example.org"
    assert card.parameters == 0 and card.licence == "MIT" and card.weights_url is None
    data = card.to_dict()
    assert "path" not in data and data["authors"][0]["affiliation"] == "Example Audio Lab"
    assert validate_card(data).to_dict() == data  # the stored form reads back unchanged


def test_a_malformed_card_lists_every_field_with_the_file(tmp_path):
    path = tmp_path / "card.yaml"
    path.write_text(
        "name: ''\n"
        "authors:\n  - {name: A, email: not-an-address, affilation: X}\n"
        "  - {email: b@c.org}\n"
        "parameters: 1.5\n"
        "macs_per_s: -1\n"
        "code_url: ftp://example.org/code\n"
        "weights_url: 'https://'\n"
        "external_data: [{name: FSD50K, url: zenodo}]\n"
        "licence: Apache 2\n"
        "license: MIT\n")
    with pytest.raises(CardError) as info:
        load_card(path)
    problems = info.value.problems
    fields = [p.split("field '")[1].split("'")[0] for p in problems]
    assert all(p.startswith(f"{path}: field '") for p in problems), problems
    assert sorted(fields) == sorted([
        "license", "affiliation", "description", "name", "authors[0].affilation", "authors[0].email",
        "authors[1].name", "parameters", "macs_per_s", "external_data[0].url", "code_url", "weights_url",
        "licence"])
    text = "\n".join(problems)
    assert "field 'affiliation': required field is missing" in text
    assert "'ftp://example.org/code' is not an absolute http:// or https:// URL" in text
    assert "'Apache 2' is not an SPDX licence id" in text
    assert "field 'license': unknown field (the card spells it 'licence')" in text


@pytest.mark.parametrize("licence, ok", [
    ("MIT", True), ("CC-BY-4.0", True), ("MIT OR Apache-2.0", True), ("LicenseRef-my-lab-1.0", True),
    ("GPL", False), ("mit", False), ("MIT OR GPL", False), ("", False), (3, False),
])
def test_licence_must_be_spdx(licence, ok):
    card = dict(GOOD, licence=licence)
    if ok:
        assert validate_card(card).licence == licence
    else:
        with pytest.raises(CardError, match="field 'licence'"):
            validate_card(card, "c.yaml")


def test_types_and_versions_are_checked():
    with pytest.raises(CardError) as info:
        validate_card(dict(GOOD, authors=[], card_version=2, parameters=True, training_data="asa2"), "c.yaml")
    fields = sorted(p.split("field '")[1].split("'")[0] for p in info.value.problems)
    assert fields == ["authors", "card_version", "parameters", "training_data"]


def test_an_unparsable_card_names_the_file(tmp_path):
    path = tmp_path / "card.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(CardError) as info:
        load_card(path)
    assert info.value.problems[0].startswith(f"{path}: cannot parse")
    with pytest.raises(CardError, match="unknown system card format"):
        load_card(tmp_path / "card.ini")
