"""Every file is written whole or not at all, and nothing is overwritten unasked."""

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_cli

import bayesleg
from bayesleg.cli import main
from bayesleg.errors import InvalidArgumentError
from bayesleg.knowledge._files import replacing, write_text
from bayesleg.knowledge.modelwriter import write_model_file

TINY = Path(__file__).parent / "fixtures" / "tiny.toml"
ORIGINAL = b"the original content, which must survive\n"


class Halfway(Exception):
    """Raised by a writer after writing part of its file."""


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# The helper


def test_a_writer_failing_halfway_leaves_the_original_and_no_temporary_file(tmp_path):
    target = tmp_path / "model.toml"
    target.write_bytes(ORIGINAL)
    with pytest.raises(Halfway), replacing(target) as temporary:
        temporary.write_text("half a fi", encoding="utf-8")
        raise Halfway
    assert target.read_bytes() == ORIGINAL
    assert names(tmp_path) == ["model.toml"]


def test_the_temporary_file_is_beside_the_target_and_keeps_its_suffix(tmp_path):
    with replacing(tmp_path / "network.png") as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".network.png.")
        assert temporary.suffix == ".png"
        temporary.write_bytes(b"image")
    assert names(tmp_path) == ["network.png"]


def test_replacing_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "model.toml"
    target.write_bytes(ORIGINAL)
    target.chmod(0o640)
    write_text(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        write_text(tmp_path / "new.txt", "new\n")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    target = tmp_path / "model.toml"
    target.write_bytes(ORIGINAL)
    with pytest.raises(FileExistsError):
        write_text(target, "new\n", overwrite=False)
    assert target.read_bytes() == ORIGINAL
    assert names(tmp_path) == ["model.toml"]


def test_a_name_ending_in_a_slash_is_refused(tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"'.*out\.csv/'.*names a folder"):
        write_text(f"{tmp_path}/out.csv/", "x")
    assert names(tmp_path) == []


# Model.save and write_model_file


def test_save_refuses_an_existing_file_unless_overwrite(tmp_path):
    model = bayesleg.load(TINY)
    target = tmp_path / "model.toml"
    target.write_bytes(ORIGINAL)
    with pytest.raises(InvalidArgumentError, match=r"model\.toml.*exists.*overwrite=True"):
        model.save(target)
    assert target.read_bytes() == ORIGINAL
    assert model.save(target, overwrite=True) == target
    assert bayesleg.load(target).spec.nodes == model.spec.nodes


def test_a_model_file_write_failing_halfway_keeps_the_original(tmp_path, monkeypatch):
    model = bayesleg.load(TINY)
    target = tmp_path / "model.toml"
    target.write_bytes(ORIGINAL)
    real_open = open

    class HalfFile:
        def __init__(self, file):
            self.file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, text):
            self.file.write(text[: len(text) // 2])
            raise Halfway

    def half_open(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        return HalfFile(file) if "w" in mode else file

    monkeypatch.setattr("builtins.open", half_open)
    with pytest.raises(Halfway):
        write_model_file(model.spec, target)
    monkeypatch.undo()
    assert target.read_bytes() == ORIGINAL
    assert names(tmp_path) == ["model.toml"]


# The commands


@pytest.fixture
def cases(tmp_path):
    result = run_cli(
        "simulate", "300", "--seed", "1", "--model", str(TINY), "-o", "cases.csv", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    return "cases.csv"


def writers(output):
    """Each command that writes a file, writing ``output`` (its suffix swapped as needed)."""
    stem = output.removesuffix("/")
    slash = "/" if output.endswith("/") else ""
    model = ("--model", str(TINY))
    return {
        "update": ("update", "cases.csv", "--strength", "10", "-o", f"{stem}.toml{slash}", *model),
        "simulate-csv": ("simulate", "5", "-o", f"{stem}.csv{slash}", *model),
        "simulate-parquet": ("simulate", "5", "-o", f"{stem}.parquet{slash}", *model),
        "export": ("export", "-o", f"{stem}.bif{slash}", *model),
        "export-uai": ("export", "-o", f"{stem}.uai{slash}", *model),
        "graph": ("graph", "-o", f"{stem}.png{slash}", *model),
        "sensitivity": (
            "sensitivity",
            "s",
            "--samples",
            "0",
            "--plot",
            f"{stem}.png{slash}",
            *model,
        ),
        "card": ("card", "-o", f"{stem}.md{slash}", *model),
    }


COMMANDS = sorted(writers("out"))


def _needs(command):
    if command == "simulate-parquet":
        pytest.importorskip("pyarrow")
    if command in ("graph", "sensitivity"):
        pytest.importorskip("matplotlib")


def existing_output(folder, args):
    """Put a file where the command ``args`` writes; return its path."""
    target = folder / args[args.index("-o" if "-o" in args else "--plot") + 1]
    target.write_bytes(ORIGINAL)
    return target


@pytest.mark.parametrize("command", COMMANDS)
def test_an_existing_output_is_refused_without_force(command, tmp_path, cases):
    _needs(command)
    args = writers("out")[command]
    target = existing_output(tmp_path, args)
    before = names(tmp_path)
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"bayesleg: error: {target.name!r} exists; pass --force to overwrite it"
    ]
    assert target.read_bytes() == ORIGINAL
    assert names(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_force_overwrites_an_existing_output(command, tmp_path, cases):
    _needs(command)
    args = writers("out")[command]
    target = existing_output(tmp_path, args)
    target.chmod(0o640)
    result = run_cli(*args, "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() != ORIGINAL
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert not [name for name in names(tmp_path) if name.startswith(".")]


def test_export_uai_refuses_an_existing_names_file_without_force(tmp_path):
    (tmp_path / "out.uai.names.json").write_bytes(ORIGINAL)
    result = run_cli("export", "-o", "out.uai", "--model", str(TINY), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "bayesleg: error: 'out.uai.names.json' exists; pass --force to overwrite it"
    ]
    assert names(tmp_path) == ["out.uai.names.json"]
    assert (tmp_path / "out.uai.names.json").read_bytes() == ORIGINAL


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_name_ending_in_a_slash_is_refused(command, tmp_path, cases):
    _needs(command)
    args = writers("out/")[command]
    before = names(tmp_path)
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("bayesleg: error: cannot write 'out.")
    assert "/' names a folder" in line
    assert names(tmp_path) == before


# A write cut short


def run_size_limited(*args: str, cwd: Path, limit: int, ignore_signal: bool):
    """Run the command with files limited to ``limit`` bytes.

    Past the limit the kernel sends SIGXFSZ, which by default kills the
    process; with ``ignore_signal`` (Python's own default) the write fails
    with EFBIG ("File too large") instead.
    """
    script = (
        "import resource, runpy, signal, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        f"signal.signal(signal.SIGXFSZ, signal.{'SIG_IGN' if ignore_signal else 'SIG_DFL'})\n"
        "sys.argv = ['bayesleg', *sys.argv[1:]]\n"
        "runpy.run_module('bayesleg', run_name='__main__')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def force_over_size_limit(command, folder, *, ignore_signal):
    """Run ``command`` with --force over its existing output, files limited to 1 KiB."""
    args = list(writers("out")[command])
    if command == "simulate-csv":
        args[1] = "5000"  # a cohort well over the limit
    return run_size_limited(*args, "--force", cwd=folder, limit=1024, ignore_signal=ignore_signal)


@pytest.mark.parametrize(("command", "name"), [("update", "out.toml"), ("simulate-csv", "out.csv")])
def test_a_write_over_the_size_limit_keeps_the_original_and_cleans_up(
    command, name, tmp_path, cases
):
    target = tmp_path / name
    target.write_bytes(ORIGINAL)
    result = force_over_size_limit(command, tmp_path, ignore_signal=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"bayesleg: error: cannot write {name!r}: File too large"]
    assert target.read_bytes() == ORIGINAL
    assert names(tmp_path) == sorted({"cases.csv", name})


@pytest.mark.parametrize(("command", "name"), [("update", "out.toml"), ("simulate-csv", "out.csv")])
def test_a_process_killed_while_writing_leaves_the_original(command, name, tmp_path, cases):
    target = tmp_path / name
    target.write_bytes(ORIGINAL)
    result = force_over_size_limit(command, tmp_path, ignore_signal=False)
    assert result.returncode == -signal.SIGXFSZ
    assert target.read_bytes() == ORIGINAL
    # A killed process cannot clean up: only its hidden temporary file is left.
    left = [n for n in names(tmp_path) if n not in ("cases.csv", name)]
    assert len(left) == 1
    assert left[0].startswith(f".{name}.")
    assert left[0].endswith(".tmp" + Path(name).suffix)


def test_simulate_interrupted_while_writing_keeps_the_original(tmp_path, monkeypatch, capsys):
    import pandas

    target = tmp_path / "cohort.csv"
    target.write_bytes(ORIGINAL)

    def half_csv(self, path, **kwargs):
        Path(path).write_text(self.to_string()[:50], encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(pandas.DataFrame, "to_csv", half_csv)
    code = main(["simulate", "50", "--model", str(TINY), "-o", str(target), "--force"])
    assert code == 130
    assert target.read_bytes() == ORIGINAL
    assert names(tmp_path) == ["cohort.csv"]
