"""One loaded model shared by many threads gives the answers it gives alone."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import bayesleg
from bayesleg.errors import BayeslegError
from bayesleg.reasoning.counterfactual import RANKINGS

THREADS = 8
CASES = 1000


def random_cases(model, seed):
    """Draw (evidence, ranking) cases: 0 to 8 findings over every node.

    One case in 25 is ranked by a counterfactual score (slower), the rest by posterior.
    """
    rng = random.Random(seed)
    nodes = [node.id for node in model.nodes]
    cases = []
    for number in range(CASES):
        evidence = {
            node: rng.choice([True, False]) for node in rng.sample(nodes, rng.randint(0, 8))
        }
        ranking = RANKINGS[1 + number % 2] if number % 25 == 0 else "posterior"
        cases.append((evidence, ranking))
    return cases


def answer(model, case):
    evidence, ranking = case
    try:
        return model.diagnose(evidence, ranking=ranking).to_dict()
    except BayeslegError as error:  # the same evidence must fail the same way
        return {"error": type(error).__name__, "message": str(error)}


def test_eight_threads_get_the_serial_answers():
    alone = bayesleg.load()
    cases = random_cases(alone, seed=6)
    serial = [answer(alone, case) for case in cases]
    assert len({s["ranked"][0]["id"] for s in serial if "ranked" in s}) > 3
    assert {s["ranking"] for s in serial if "ranked" in s} == set(RANKINGS)
    # A model never used before, so the threads also race to fill its lazy caches.
    model = bayesleg.load()
    start = threading.Barrier(THREADS)

    def worker(seed):
        order = list(range(CASES))
        random.Random(seed).shuffle(order)  # each thread in its own order
        start.wait(timeout=60)
        return {index: answer(model, cases[index]) for index in order}

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    for threaded in results:
        assert len(threaded) == CASES
        mismatched = [index for index in range(CASES) if threaded[index] != serial[index]]
        assert not mismatched, f"{len(mismatched)} answers differ, first case {mismatched[0]}"
