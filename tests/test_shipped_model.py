"""The shipped model: vocabulary, provenance of every number, and validity."""

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import bayesleg
from bayesleg.knowledge.modelfile import ANCHORS, CARE_LEVELS, CUES, STATES

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
    "electrolyte_drinks",
    "manages_blood_sugar",
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
    "water_retention",
    "underlying_medical_condition",
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
    "recurring_cramps",
    "cramps_unresponsive",
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
    yield "triage", "finding_threshold", model.spec.finding_threshold


def test_every_parameter_has_a_source_and_a_verbal_anchor(model):
    parameters = list(_all_parameters(model))
    # A prior or a leak per node, one weight per term, one per preventer, two thresholds.
    expected = sum(1 + len(n.parents) + len(n.inhibitors) for n in model.spec.nodes) + 2
    assert len(parameters) == expected
    sourced = [
        (node, field)
        for node, field, p in parameters
        if p.source.file and p.source.quote and p.verbal in ANCHORS
    ]
    assert len(sourced) == len(parameters)  # 100 %


def test_every_anchor_follows_from_its_cue_or_a_note_says_why(model):
    """The protocol's table: the cue sets the anchor; any exception carries a note."""
    exceptions = []
    for node, field, parameter in _all_parameters(model):
        assert parameter.cue in CUES, f"{node}.{field}: no cue"
        if CUES[parameter.cue] != parameter.verbal:
            assert parameter.note, f"{node}.{field}: {parameter.cue} is not {parameter.verbal}"
            exceptions.append(f"{node}.{field}")
    # Exceptions are the exception: most numbers take their cue's anchor.
    assert len(exceptions) < len(list(_all_parameters(model))) / 2


def test_prevalence_cues_set_base_rates_and_nothing_else(model):
    """A prevalence passage sets a condition's base rate, never a weight or a preventer."""
    for node in model.spec.nodes:
        for field, parameter in node.parameters():
            if parameter.cue in ("most_common", "common"):
                assert (node.kind, field) == ("condition", "leak"), f"{node.id}.{field}"


@pytest.mark.parametrize(
    ("condition", "base_rate"),
    [
        # 004: "probably the most common causes", hedged one band down
        ("glycogen_depletion", ANCHORS["improbable"]),
        ("dehydration", ANCHORS["improbable"]),
        ("electrolyte_imbalance", ANCHORS["improbable"]),
        ("muscle_fatigue", ANCHORS["improbable"]),  # 003: "Common conditions"
        ("water_retention", ANCHORS["improbable"]),
    ],
)
def test_a_prevalence_passage_sets_the_base_rate(model, condition, base_rate):
    with_nothing = {cause.id: cause.posterior for cause in model.diagnose({}).ranked}
    assert with_nothing[condition] == pytest.approx(base_rate, abs=1e-3)


def test_the_common_causes_come_first_and_rare_things_stay_rare(model):
    with_nothing = {cause.id: cause.posterior for cause in model.diagnose({}).ranked}
    most_common = ("glycogen_depletion", "dehydration", "electrolyte_imbalance")
    others = [c for c in model.conditions if c not in most_common]
    assert min(with_nothing[c] for c in most_common) >= max(with_nothing[c] for c in others) - 1e-3
    # 000: RLS "affects a wide range of adults"; no text says so of popliteal entrapment.
    assert with_nothing["restless_legs_syndrome"] > with_nothing["popliteal_artery_entrapment"]
    silent = (
        "peripheral_artery_disease",
        "exertional_compartment_syndrome",
        "sciatica",
        "myopathy",
    )
    assert all(with_nothing[c] <= 0.05 for c in silent)


# Each preventive practice a text calls effective, the case it is asked in,
# and the passage (quoted in the preventer's source).
PRACTICES = [
    ("fasted", "glycogen_depletion", {"long_session": True}, "effective way to prevent glycogen"),
    ("low_fluid_intake", "dehydration", {"heavy_sweating": True}, "To avoid dehydration"),
    ("electrolyte_drinks", "electrolyte_imbalance", {"hot_environment": True}, "can mitigate"),
    ("electrolyte_drinks", "dehydration", {"heavy_sweating": True}, "can hydrate you"),
    ("insufficient_rest", "overtraining", {"high_intensity": True}, "sufficient rest days"),
    ("insufficient_rest", "muscle_fatigue", {"heavy_weights": True}, "will prevent muscle fatigue"),
    ("skipped_warmup", "muscle_fatigue", {"heavy_weights": True}, "always begin a session"),
    ("high_intensity", "muscle_fatigue", {"heavy_weights": True}, "by pacing yourself"),
    ("mileage_jump", "low_fitness", {"beginner": True}, "10-percent rule"),
    ("tight_clothing", "restricted_circulation", {}, "proper attire"),
    ("poor_posture", "nerve_compression", {}, "proper form"),
    ("manages_blood_sugar", "peripheral_neuropathy", {"diabetes": True}, "blood sugar levels"),
]


def test_blood_sugar_management_blocks_the_diabetes_route_only(model):
    """002: management prevents the symptoms of diabetic neuropathy; neuropathy
    from other causes (the base rate) is untouched, and unanswered, the
    diabetes route keeps the anchor its passage sets."""
    (practice,) = model.node("peripheral_neuropathy").inhibitors
    assert (practice.factor, practice.when, practice.term) == (
        "manages_blood_sugar",
        "present",
        "diabetes",
    )

    def posterior(evidence):
        ranked = model.diagnose(evidence).ranked
        return {c.id: c.posterior for c in ranked}["peripheral_neuropathy"]

    leak = model.node("peripheral_neuropathy").leak.p
    # Without diabetes the practice changes nothing.
    no_diabetes = {"diabetes": False}
    assert posterior({**no_diabetes, "manages_blood_sugar": True}) == pytest.approx(leak)
    assert posterior({**no_diabetes, "manages_blood_sugar": False}) == pytest.approx(leak)
    # With diabetes and management unknown: 1 - (1 - leak) * (1 - 0.25), the anchor.
    assert posterior({"diabetes": True}) == pytest.approx(1 - (1 - leak) * 0.75)


@pytest.mark.parametrize(("factor", "condition", "case", "passage"), PRACTICES)
def test_a_preventive_practice_lowers_its_cause_by_at_least_a_third(
    model, factor, condition, case, passage
):
    (practice,) = [i for i in model.node(condition).inhibitors if i.factor == factor]
    assert passage in practice.parameter.source.quote
    assert practice.parameter.cue in ("prevents", "prevents_hedged")
    done = {factor: practice.when == "present"}
    not_done = {factor: practice.when != "present"}

    def posterior(evidence):
        return {c.id: c.posterior for c in model.diagnose({**case, **evidence}).ranked}[condition]

    assert posterior(done) <= (2 / 3) * posterior(not_done)
    assert posterior(done) < posterior({})  # and below not answering at all


@pytest.mark.parametrize("finding", ["tingling", "heaviness", "cramps", "urge_to_move"])
def test_a_single_finding_ranks_first_a_cause_a_text_ties_to_it(model, finding):
    top = model.diagnose({finding: True}).top.id
    assert top in model.node(finding).parent_ids


def test_no_condition_and_no_red_flag_is_urgent(model):
    assert all(node.care != "urgent" for node in model.spec.nodes if node.kind == "condition")
    assert all(flag.level != "urgent" for flag in model.spec.red_flags)


@pytest.mark.parametrize("factor", sorted(FACTORS))
@pytest.mark.parametrize("state", [True, False])
def test_a_factor_alone_never_raises_triage(model, factor, state):
    assert model.diagnose({factor: state}).triage.level == "self_care"


def test_the_benign_cases_of_the_review_are_self_care(model):
    for evidence in (
        {"heaviness": True, "exertional_onset": True},  # 004: "don't worry"
        {"exertional_onset": True},
        {"cramps": True, "pain": True},  # 003: a cramp "sometimes results in pain"
        {"tingling": True, "numbness": True, "diabetes": False},
        {"insufficient_rest": True, "weakness": True, "interferes_with_daily_life": True},
    ):
        assert model.diagnose(evidence).triage.level == "self_care", evidence


@pytest.mark.parametrize("finding", ["tingling", "numbness"])
def test_tingling_or_numbness_with_diabetes_goes_to_a_clinician(model, finding):
    """002: "If you suspect neuropathy, consult a healthcare professional" -- its
    suspect is the person with diabetes whose legs tingle or go numb, whatever
    the posterior; without diabetes, or with diabetes alone, the level stays."""
    triage = model.diagnose({"diabetes": True, finding: True}).triage
    assert triage.level == "see_doctor"
    assert [r.id for r in triage.reasons] == ["tingling_with_diabetes"]
    assert model.diagnose({"diabetes": False, finding: True}).triage.level == "self_care"
    assert model.diagnose({"diabetes": True}).triage.level == "self_care"


def test_off_anchor_values_say_why(model):
    for node, field, parameter in _all_parameters(model):
        if abs(parameter.p - ANCHORS[parameter.verbal]) > 1e-12:
            assert parameter.note, f"{node}.{field}"


def test_the_loader_checked_every_quote_against_the_texts(model):
    assert model.spec.sources is not None
    assert {path.name for path in Path(model.spec.sources).glob("*.txt")} == {
        path.name for path in SEEDS.glob("*.txt")
    }


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
        for parent in node.parent_ids:
            assert kinds[parent] != "symptom"
        for inhibitor in node.inhibitors:
            assert kinds[inhibitor.factor] == "factor" and inhibitor.when in STATES
        if node.kind == "factor":
            assert node.parents == ()


def test_red_flags_are_scoped_as_the_texts_scope_them(model):
    flags = {flag.id: flag for flag in model.spec.red_flags}
    # 002's three criteria qualify the tingling sensation, numbness counting with it.
    for flag_id in (
        "tingling_persists",
        "tingling_with_pain_weakness_or_swelling",
        "tingling_interferes_with_daily_life",
    ):
        assert ("tingling", "numbness") in flags[flag_id].all
    assert flags["weakness_persists"].all == (("weakness", "loss_of_strength"), ("persistent",))
    assert flags["recurring_cramps"].all == (("recurring_cramps",),)
    assert flags["cramps_do_not_respond"].all == (("cramps_unresponsive",),)


@pytest.mark.parametrize(
    ("evidence", "level"),
    [
        ({"tingling": True, "persistent": True}, "see_doctor"),
        ({"numbness": True, "swelling": True}, "see_doctor"),
        ({"weakness": True, "persistent": True}, "see_doctor"),
        ({"heaviness": True, "persistent": True}, "self_care"),  # no text's criterion
        ({"interferes_with_daily_life": True, "weakness": True}, "self_care"),
        ({"loss_of_strength": True, "persistent": True}, "see_doctor"),
        ({"cramps": True, "recurring_cramps": True}, "see_doctor"),
        ({"cramps": True, "cramps_unresponsive": True}, "see_doctor"),
        ({"cramps": True, "takes_medication": True}, "see_doctor"),
    ],
)
def test_red_flags_fire_on_the_texts_criteria_only(model, evidence, level):
    assert model.diagnose(evidence).triage.level == level


def test_pgmpy_network_passes_check_model(model):
    network = model.network
    assert network.check_model()
    assert set(network.nodes()) == {node.id for node in model.nodes}
    for node in model.nodes:
        assert tuple(network.get_cpds(node.id).state_names[node.id]) == ("absent", "present")


_ANSWERABLE = sorted(FACTORS | SYMPTOMS)
_MODEL = bayesleg.load()


@settings(max_examples=150, deadline=None)
@given(
    answers=st.dictionaries(st.sampled_from(_ANSWERABLE), st.booleans(), max_size=8),
    extra=st.sampled_from(_ANSWERABLE),
)
# Judged by the whole-evidence posterior, this "no" would raise neuropathy to see_doctor.
@example(
    answers={
        "electrolyte_drinks": True,
        "diabetes": True,
        "hypertonic_drinks": True,
        "cramps": False,
        "soreness": False,
        "numbness": True,
    },
    extra="low_fluid_intake",
)
def test_a_no_answer_never_raises_triage(answers, extra):
    model = _MODEL
    assume(extra not in answers)
    before = model.diagnose(answers).triage.level
    after = model.diagnose({**answers, extra: False}).triage.level
    assert CARE_LEVELS.index(after) <= CARE_LEVELS.index(before)
