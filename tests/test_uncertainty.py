"""Posterior intervals on a diagnosis over random draws of the hand-set numbers.

Reference: the model rebuilt with every number at a draw's values and
diagnosed again, draw by draw (the engine).
"""

import json

import jsonschema
import numpy as np
import pytest
from cli_runner import run_cli
from spec_edits import with_values

import bayesleg
from bayesleg import InvalidArgumentError
from bayesleg.research._montecarlo import INTERVAL, draw_numbers
from bayesleg.research.sensitivity import parameter_ranges
from bayesleg.serving import contract, schemas

CASE = {"cramps": True, "hot_environment": True, "long_session": True, "tingling": False}


@pytest.fixture(scope="module")
def model():
    return bayesleg.load()


def test_intervals_match_the_model_rebuilt_draw_by_draw(model):
    samples = 24
    diagnosis = model.diagnose(CASE, uncertainty=samples)
    draws = draw_numbers(parameter_ranges(model.spec), samples, 0)
    drawn = np.array(
        [
            [
                cause.posterior
                for cause in sorted(
                    bayesleg.Model(with_values(model.spec, draw)).diagnose(CASE).ranked,
                    key=lambda cause: cause.id,
                )
            ]
            for draw in draws
        ]
    )
    ids = sorted(model.conditions)
    low, high = np.percentile(drawn, INTERVAL, axis=0)
    firsts = [ids[int(np.argmax(np.round(row, 12)))] for row in drawn]
    for cause in diagnosis.ranked:
        i = ids.index(cause.id)
        assert cause.uncertainty.low == pytest.approx(low[i], abs=1e-9)
        assert cause.uncertainty.high == pytest.approx(high[i], abs=1e-9)
        assert cause.uncertainty.first_share == firsts.count(cause.id) / samples
    assert diagnosis.uncertainty == {"samples": samples, "seed": 0, "percentiles": [5.0, 95.0]}
    # The hand-set answer itself is unchanged.
    plain = model.diagnose(CASE)
    assert [(c.id, c.posterior) for c in plain.ranked] == [
        (c.id, c.posterior) for c in diagnosis.ranked
    ]


def test_seeded_and_only_when_asked(model):
    first = model.diagnose(CASE, uncertainty=50).to_dict()
    assert first == model.diagnose(CASE, uncertainty=50).to_dict()
    plain = model.diagnose(CASE, uncertainty=0).to_dict()
    assert "uncertainty" not in plain and "uncertainty" not in plain["ranked"][0]
    assert sum(cause["uncertainty"]["first_share"] for cause in first["ranked"]) == pytest.approx(1)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "uncertainty must be a whole number >= 0, got -1"),
        (True, "uncertainty must be a whole number >= 0, got True"),
        (2.5, "uncertainty must be a whole number >= 0, got 2.5"),
        (10_001, "uncertainty must be at most 10000 draws, got 10001"),
    ],
)
def test_bad_uncertainty(model, value, message):
    with pytest.raises(InvalidArgumentError, match=message):
        model.diagnose(CASE, uncertainty=value)


def test_contract_carries_the_optional_fields(model):
    response = contract.diagnose(model, {"evidence": {"cramps": True}, "uncertainty": 40, "top": 3})
    jsonschema.Draft202012Validator(schemas.schema("diagnosis-response")).validate(response)
    jsonschema.Draft202012Validator(schemas.schema("diagnosis-request")).validate(
        {"evidence": {"cramps": True}, "uncertainty": 40}
    )
    assert response["uncertainty"]["samples"] == 40
    expected = model.diagnose({"cramps": True}, uncertainty=40).to_dict()["ranked"][:3]
    assert response["ranked"] == json.loads(json.dumps(expected))
    batch = contract.diagnose_batch(
        model, [{"evidence": {"cramps": True}, "uncertainty": 40}, {"evidence": {"cramps": True}}]
    )
    assert batch["results"][0]["ranked"] == response["ranked"] + batch["results"][0]["ranked"][3:]
    assert "uncertainty" not in batch["results"][1]
    with pytest.raises(contract.InvalidRequestError, match='"uncertainty" must be a whole number'):
        contract.diagnose(model, {"evidence": {}, "uncertainty": 5000})
    assert contract.batch_cost([{"evidence": {"cramps": True}, "uncertainty": 200}]) == 21


def test_cli(model, tmp_path):
    result = run_cli("diagnose", "cramps", "--uncertainty", "30", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload.pop("warnings") == []  # the contract's warnings, none for this evidence
    assert payload == json.loads(
        json.dumps(model.diagnose({"cramps": True}, uncertainty=30).to_dict())
    )
    table = run_cli("diagnose", "cramps", "--uncertainty", "30", "--top", "2", cwd=tmp_path)
    assert "5-95 %" in table.stdout and "over 30 draws" in table.stdout
    bad = run_cli("diagnose", "cramps", "--uncertainty", "many", cwd=tmp_path)
    assert bad.returncode == 2 and "expected a whole number >= 0, got 'many'" in bad.stderr
