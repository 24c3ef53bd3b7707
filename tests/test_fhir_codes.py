"""The code file: its shape, a local code for every node, and a source for every standard code."""

from __future__ import annotations

import copy
import re
import tomllib
from importlib import resources

import pytest

import bayesleg
from bayesleg.errors import ModelFileError
from bayesleg.fhir.codes import LOCAL_SYSTEM, code_file, parse_code_file, vocabulary

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
# ICD-10-CM codes: a letter, two characters, and after the dot up to four more.
ICD_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
MODEL = bayesleg.load()


@pytest.fixture
def document():
    text = (resources.files("bayesleg.fhir") / "codes.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def test_every_node_of_the_shipped_model_has_its_local_code_and_label():
    codes = code_file()
    assert codes.model == MODEL.id
    assert sorted(codes.nodes) == sorted(node.id for node in MODEL.nodes)
    for node in MODEL.nodes:
        local = codes.nodes[node.id][0]
        assert (local.system, local.code, local.display) == (LOCAL_SYSTEM, node.id, node.label)
        assert codes.displays[node.id] == node.label


def test_every_standard_code_carries_a_source_and_the_title_it_quotes(document):
    sources = document["sources"]
    standard = [
        (node_id, entry)
        for node_id, table in document["node"].items()
        for entry in table.get("codes", [])
    ] + [(None, entry) for entry in document["answer"]]
    assert len(standard) >= 14
    for node_id, entry in standard:
        assert entry["source"] in sources, (node_id, entry)
        source = sources[entry["source"]]
        assert source["system"] == entry["system"]
        assert source["title"].strip() and source["where"].strip()
        assert entry["quote"].strip()
        if entry["system"] == ICD:
            assert ICD_CODE.match(entry["code"]), entry
            # The quote is the tabular list's line: the code, then its title.
            assert entry["quote"].startswith(f"{entry['code']} {entry['display']}"), entry
        else:
            assert entry["display"] in entry["quote"], entry


def test_the_conditions_the_issue_names_have_the_codes_it_names():
    by_code = vocabulary(MODEL).by_code
    expected = {
        "R25.2": "cramps",
        "R20.2": "tingling",
        "M54.30": "sciatica",
        "I73.9": "peripheral_artery_disease",
        "G25.81": "restless_legs_syndrome",
        "M79.A29": "exertional_compartment_syndrome",
    }
    assert {code: by_code[(ICD, code)] for code in expected} == expected


def test_no_code_names_two_nodes_and_answers_are_present_or_absent():
    codes = vocabulary(MODEL)
    pairs = [(c.system, c.code) for node in codes.codes.values() for c in node]
    assert len(pairs) == len(set(pairs))
    assert codes.answers[(SNOMED, "52101004")] == "present"
    assert codes.answers[(SNOMED, "2667000")] == "absent"
    assert set(codes.answers.values()) == {"present", "absent"}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["node"]["dehydration"]["codes"][0].pop("source"), r"dehydration.*'source'"),
        (lambda d: d["node"]["dehydration"]["codes"][0].pop("quote"), r"dehydration.*'quote'"),
        (
            lambda d: d["node"]["dehydration"]["codes"][0].update(source="nowhere"),
            r"source 'nowhere' is not in \[sources\]",
        ),
        (
            lambda d: d["node"]["dehydration"]["codes"][0].update(system=SNOMED),
            r"system 'http://snomed.info/sct' is not that of source 'icd10cm'",
        ),
        (
            lambda d: d["node"]["cramps"]["codes"].append(d["node"]["dehydration"]["codes"][0]),
            r"E86\.0 of http://hl7.org/fhir/sid/icd-10-cm is also 'dehydration''s",
        ),
        (lambda d: d["node"]["cramps"].pop("display"), r"node 'cramps', field 'display'"),
        (lambda d: d["node"]["cramps"].update(colour="red"), r"unknown keys \['colour'\]"),
        (lambda d: d["answer"][0].update(state="maybe"), r"expected state 'present' or 'absent'"),
        (lambda d: d.update(local_system="x"), r"expected local_system"),
    ],
)
def test_a_broken_code_file_is_a_model_file_error_naming_node_and_field(document, change, words):
    broken = copy.deepcopy(document)
    change(broken)
    with pytest.raises(ModelFileError, match=words):
        parse_code_file(broken)
