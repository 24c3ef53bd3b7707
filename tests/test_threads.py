"""One loaded model shared by many threads gives the answers it gives alone."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import bayesleg
from bayesleg.errors import BayeslegError

THREADS = 8
CASES = 1000


def random_cases(model, seed):
    """Random evidence over every node, 0 to 8 findings a case."""
    rng = random.Random(seed)
    nodes = [node.id for node in model.nodes]
    return [
        {node: rng.choice([True, False]) for node in rng.sample(nodes, rng.randint(0, 8))}
        for _ in range(CASES)
    ]


def answer(model, evidence):
    try:
        return model.diagnose(evidence).to_dict()
    except BayeslegError as error:  # the same evidence must fail the same way
        return {"error": type(error).__name__, "message": str(error)}


def test_eight_threads_get_the_serial_answers():
    model = bayesleg.load()
    cases = random_cases(model, seed=6)
    serial = [answer(model, evidence) for evidence in cases]
    assert len({str(s["ranked"][0]["id"]) for s in serial if "ranked" in s}) > 3
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
