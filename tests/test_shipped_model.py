"""The shipped model: vocabulary, provenance of every number, and validity."""

import re
import unicodedata
from pathlib import Path

import pytest

import bayesleg
from bayesleg.knowledge.modelfile import ANCHORS, CARE_LEVELS

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"

FACTORS = {
    "long_session",
    "high_intensity",
    "hot_environment",
    "fasted",
    "poor_recovery_nutrition",
    "low_fluid_intake",
    "heavy_sweating",
    "mileage_jump",
    "insufficient_rest",
    "skipped_warmup",
    "tight_clothing",
    "poor_posture",
    "repetitive_knee_bending",
    "diabetes",
    "low_b_vitamin_diet",
    "takes_medication",
    "hypertonic_drinks",
    "beginner",
    "heavy_weights",
}
CONDITIONS = {
    "glycogen_depletion",
    "dehydration",
    "electrolyte_imbalance",
    "overtraining",
    "muscle_fatigue",
    "lactic_acid_buildup",
    "low_fitness",
    "nerve_compression",
    "peripheral_neuropathy",
    "restricted_circulation",
    "peripheral_artery_disease",
    "exertional_compartment_syndrome",
    "sciatica",
    "popliteal_artery_entrapment",
    "vitamin_b_deficiency",
    "restless_legs_syndrome",
    "myopathy",
    "medication_side_effect",
}
SYMPTOMS = {
    "weakness",
    "loss_of_strength",
    "heaviness",
    "tingling",
    "numbness",
    "cramps",
    "pain",
    "radiating_pain",
    "swelling",
    "urge_to_move",
    "worse_at_rest",
    "exertional_onset",
    "starts_in_feet",
    "stiffness",
    "soreness",
    "insomnia",
    "low_motivation",
    "persistent",
    "interferes_with_daily_life",
}


@pytest.fixture(scope="module")
def model():
    return bayesleg.load()


def _plain(text: str) -> str:
    """Fold quotes, dashes and white space so a quote matches the text it came from."""
    text = unicodedata.normalize("NFKC", text)
    for fancy, plain in {"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"}.items():
        text = text.replace(fancy, plain)
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.fixture(scope="module")
def seed_texts():
    return {path.name: _plain(path.read_text(encoding="utf-8")) for path in SEEDS.glob("*.txt")}


def test_required_vocabulary_is_complete(model):
    kinds = {node.id: node.kind for node in model.nodes}
    for kind, required in (("factor", FACTORS), ("condition", CONDITIONS), ("symptom", SYMPTOMS)):
        missing = required - {node for node, k in kinds.items() if k == kind}
        assert missing == set(), f"missing {kind}s"


def _all_parameters(model):
    for node in model.spec.nodes:
        for field, parameter in node.parameters():
            yield node.id, field, parameter
    yield "triage", "condition_threshold", model.spec.condition_threshold


def test_every_parameter_has_a_source_and_a_verbal_anchor(model):
    parameters = list(_all_parameters(model))
    expected = (
        sum(1 + len(node.parents) for node in model.spec.nodes) + 1
    )  # prior or leak per node, one weight per parent, the threshold
    assert len(parameters) == expected
    sourced = [
        (node, field)
        for node, field, p in parameters
        if p.source.file and p.source.quote and p.verbal in ANCHORS
    ]
    assert len(sourced) == len(parameters)  # 100 %


def test_off_anchor_values_say_why(model):
    for node, field, parameter in _all_parameters(model):
        if abs(parameter.p - ANCHORS[parameter.verbal]) > 1e-12:
            assert parameter.note, f"{node}.{field}"


def test_every_quote_is_in_its_source_text(model, seed_texts):
    quoted = [(node, field, p.source) for node, field, p in _all_parameters(model)]
    for node in model.spec.nodes:
        if node.advice is not None:
            quoted.append((node.id, "advice", node.advice.source))
    for flag in model.spec.red_flags:
        quoted.append((flag.id, "red_flag", flag.source))
    missing = [
        f"{node}.{field}: {source}"
        for node, field, source in quoted
        if source.file not in seed_texts or _plain(source.quote) not in seed_texts[source.file]
    ]
    assert missing == []


def test_conditions_have_care_and_advice(model):
    for node in model.spec.nodes:
        if node.kind == "condition":
            assert node.care in CARE_LEVELS
            assert node.advice.text.strip()


def test_structure_runs_factors_to_conditions_to_symptoms(model):
    kinds = {node.id: node.kind for node in model.nodes}
    for node in model.spec.nodes:
        for parent, _ in node.parents:
            assert kinds[parent] != "symptom"
        if node.kind == "factor":
            assert node.parents == ()


def test_red_flags_cover_the_help_seeking_passages(model):
    flags = {finding for flag in model.spec.red_flags for finding in flag.all}
    assert {
        "persistent",
        "tingling",
        "interferes_with_daily_life",
        "loss_of_strength",
        "cramps",
    } <= flags


def test_pgmpy_network_passes_check_model(model):
    network = model.network
    assert network.check_model()
    assert set(network.nodes()) == {node.id for node in model.nodes}
    for node in model.nodes:
        assert tuple(network.get_cpds(node.id).state_names[node.id]) == ("absent", "present")
