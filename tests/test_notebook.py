"""The notebook of the docs runs, and each result in it shows a picture and a table.

``python tests/test_notebook.py`` runs the notebook and saves it with its
outputs, as the docs link it.
"""

import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "notebook.ipynb"
# The cell sources that end in a result, and the class of what each shows.
SHOWN = {
    "model": "bayesleg",
    "diagnosis": "bayesleg",
    "model.explain(case, diagnosis.top.id)": "bayesleg",
    "model.next_questions(case, k=5)": "bayesleg",
    "bayesleg.sensitivity(model, case, samples=30, seed=0)": "bayesleg",
    'bayesleg.evaluate(model, "../data/vignettes.jsonl")': "bayesleg",
}


def execute(path=NOTEBOOK):
    """Return the notebook at ``path`` run from its folder in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # times that would change on every run
    return notebook


def test_the_notebook_runs_and_shows_pictures_and_tables():
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = execute()
    shown = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert not [out for out in cell.outputs if out.output_type == "error"]
        last = cell.source.splitlines()[-1]
        for output in cell.outputs:
            if output.output_type == "execute_result":
                shown[last] = output.data
    assert set(shown) == set(SHOWN)
    for source, data in shown.items():
        html = data["text/html"]
        assert html.startswith(f'<div class="{SHOWN[source]}"'), source
        assert "<svg" in html and "<table" in html, source
        assert data["text/plain"].startswith("<"), source
    (printed,) = [c for c in notebook.cells if c.source == "print(repr(diagnosis))"]
    assert printed.outputs[0].text.startswith("<Diagnosis by posterior: triage")


if __name__ == "__main__":
    import nbformat

    nbformat.write(execute(), NOTEBOOK)
    sys.exit(0)
