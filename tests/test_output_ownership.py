"""A file that is not the toolkit's own is never replaced; outputs are tried before the work; stale temporaries go."""

import ast
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib
import pytest

import sklearn_ser
from sklearn_ser import _files
from sklearn_ser._file_kinds import NotOurFileError, check_replaceable
from sklearn_ser._files import atomic_write, dump_atomically, write_text_atomically
from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus

matplotlib.use("Agg")
PACKAGE = Path(sklearn_ser.__file__).parent
WRITERS = ("atomic_write", "write_text_atomically")


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ownership_corpus")
    make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad"), random_state=0)
    return root


def _sqlite_database(path):
    with sqlite3.connect(path) as connection:
        connection.execute("create table studies (id integer)")
    return path.read_bytes()


def _written(data):
    def write(path):
        path.write_bytes(data)
        return data

    return write


FOREIGN_FILES = {
    "a text file": _written(b"my notes\n"),
    "a SQLite database": _sqlite_database,
    "a corpus manifest": _written(b"path,label,speaker\na.wav,sad,F01\n"),
    "a WAV file": _written(b"RIFF\x24\x00\x00\x00WAVEfmt "),
}


@pytest.mark.parametrize("foreign", sorted(FOREIGN_FILES))
def test_fit_refuses_to_replace_a_file_that_is_not_a_model_before_any_work(tmp_path, small_corpus, capsys, foreign):
    out = tmp_path / "model.joblib"
    content = FOREIGN_FILES[foreign](out)
    fit = ["fit", "--corpus", f"synthetic:{small_corpus}", "--recipe", "svm-mfcc", "--out", str(out), "--no-cache"]
    started = time.perf_counter()
    assert main(fit) == 1
    err = capsys.readouterr().err
    assert f"--out {out} exists and is not a model file" in err and "--force" in err
    assert time.perf_counter() - started < 2, "refused before the corpus was read"
    assert out.read_bytes() == content
    assert main([*fit, "--force"]) == 0
    assert out.read_bytes()[:1] == b"\x80", "--force replaced it with the model"
    assert main(fit) == 0, "a model file is replaced without --force"


def test_predict_and_timeline_replace_their_own_tables_only(tmp_path, per_speaker_svm, capsys):
    model, _, files, _ = per_speaker_svm
    manifest = tmp_path / "manifest.csv"
    content = FOREIGN_FILES["a corpus manifest"](manifest)
    assert main(["predict", str(model), *files[:2], "--out", str(manifest)]) == 1
    assert "--out" in capsys.readouterr().err and manifest.read_bytes() == content
    table = tmp_path / "predictions.csv"
    assert main(["predict", str(model), *files[:2], "--out", str(table)]) == 0
    assert main(["predict", str(model), *files[2:4], "--out", str(table)]) == 0, "its own table is replaced"
    assert [line.split(",")[0] for line in table.read_text().splitlines()[1:]] == files[2:4]
    timeline = ["timeline", str(model), files[0], "--window", "0.5", "--hop", "0.5"]
    assert main([*timeline, "--out", str(table)]) == 0, "a table of another command is a table of ours"
    assert main([*timeline, "--out", str(manifest)]) == 1 and manifest.read_bytes() == content


def test_an_unknown_figure_format_is_refused_before_anything_is_written(tmp_path, per_speaker_svm, capsys):
    model, _, files, _ = per_speaker_svm
    out, plot = tmp_path / "timeline.csv", tmp_path / "timeline.xyz"
    assert main(["timeline", str(model), files[0], "--out", str(out), "--plot", str(plot)]) == 1
    assert f"--plot {plot}: Matplotlib cannot write .xyz images" in capsys.readouterr().err
    assert not out.exists() and not plot.exists()


def test_the_figure_format_message_names_the_formats(tmp_path):
    with pytest.raises(ValueError, match=r"--plot .*t\.xyz: Matplotlib cannot write \.xyz images.*\.png"):
        _files.check_writable(tmp_path / "t.xyz", option="--plot", kind="figure")
    _files.check_writable(tmp_path / "t.svg", option="--plot", kind="figure")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_an_output_where_nothing_can_be_created_is_refused_before_any_work_even_as_root(tmp_path, small_corpus, capsys):
    fit = ["fit", "--corpus", f"synthetic:{small_corpus}", "--recipe", "svm-mfcc", "--out", "/proc/m.joblib"]
    started = time.perf_counter()
    assert main(fit) == 1
    assert "--out /proc/m.joblib cannot be written" in capsys.readouterr().err
    assert time.perf_counter() - started < 2
    assert main(["timeline", "model.joblib", "a.wav", "--speech-out", "/proc/speech.csv"]) == 1
    assert "--speech-out /proc/speech.csv cannot be written" in capsys.readouterr().err


def test_a_report_folder_holding_a_foreign_report_md_is_refused(tmp_path, small_corpus, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("# My own notes\n")
    evaluate = ["evaluate", "--corpus", f"synthetic:{small_corpus}", "--recipe", "svm-mfcc", "--out", str(out)]
    assert main(evaluate) == 1
    assert "report.md exists and is not a report written by sklearn-ser" in capsys.readouterr().err
    assert (out / "report.md").read_text() == "# My own notes\n"


def test_the_library_writers_refuse_a_foreign_file_too(tmp_path):
    import matplotlib.pyplot as plt

    from sklearn_ser.plotting import save_figure

    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    figure = plt.figure()
    with pytest.raises(NotOurFileError, match="notes.png exists and is not an image"):
        save_figure(figure, notes)
    plt.close(figure)
    with pytest.raises(NotOurFileError, match="not a model file"):
        dump_atomically({"a": 1}, notes)
    assert notes.read_text() == "not an image"
    empty = tmp_path / "empty.joblib"
    empty.touch()
    dump_atomically({"a": 1}, empty)  # an empty file holds nothing to lose
    assert empty.stat().st_size > 0


def test_every_writer_in_the_package_names_the_kind_it_replaces():
    offenders = []
    for module in sorted(PACKAGE.rglob("*.py")):
        if module.name == "_files.py":
            continue
        source = module.read_text()
        for node in ast.walk(ast.parse(source)):
            writer = isinstance(node, ast.Call) and getattr(node.func, "id", None) in WRITERS
            if writer and "replaces" not in {keyword.arg for keyword in node.keywords}:
                offenders.append(f"{module.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, offenders


def test_an_output_kind_is_told_by_content_not_by_name(tmp_path):
    table = tmp_path / "renamed.joblib"
    table.write_text("file,label\na.wav,sad\n")
    check_replaceable(table, "table")
    with pytest.raises(NotOurFileError):
        check_replaceable(table, "model")
    bom = tmp_path / "excel.csv"
    bom.write_bytes("\ufeffstart,end,label\n".encode())
    check_replaceable(bom, "table")


# --- Temporary files of killed writers ------------------------------------------------------------------------------


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_write_removes_the_stale_temporaries_of_killed_writers_and_nothing_else(tmp_path):
    stale = tmp_path / ".model.joblib.abcd1234.tmp"
    fresh = tmp_path / ".model.joblib.efgh5678.tmp"
    others = [tmp_path / ".notes.tmp", tmp_path / "model.tmp", tmp_path / ".model.joblib.ab.tmp"]
    for path in [stale, fresh, *others]:
        path.write_bytes(b"x")
    for path in [stale, *others]:
        _age(path, 2 * _files.STALE_SECONDS)
    write_text_atomically(tmp_path / "report.md", "# r\n", replaces="report")
    assert not stale.exists()
    assert fresh.exists() and all(path.exists() for path in others)


def test_a_temporary_locked_by_a_live_writer_is_kept_however_old(tmp_path):
    import fcntl

    busy = tmp_path / ".model.joblib.busy0000.tmp"
    busy.write_bytes(b"x")
    _age(busy, 2 * _files.STALE_SECONDS)
    with open(busy, "rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        write_text_atomically(tmp_path / "other.csv", "file\n", replaces="table")
        assert busy.exists()
    write_text_atomically(tmp_path / "other.csv", "file\n", replaces="table")
    assert not busy.exists(), "once its writer is gone, it is stale"


def test_a_writer_killed_mid_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys, time
        from sklearn_ser._files import atomic_write
        def slow(fh):
            fh.write(b"half")
            fh.flush()
            print("writing", flush=True)
            time.sleep(60)
        atomic_write({str(tmp_path / "model.joblib")!r}, slow, replaces="model")
        """
    )
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        (left,) = tmp_path.glob(".model.joblib.*.tmp")
        write_text_atomically(tmp_path / "a.csv", "file\n", replaces="table")
        assert left.exists(), "its writer is alive"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    _age(left, 2 * _files.STALE_SECONDS)
    atomic_write(tmp_path / "model.joblib", lambda fh: fh.write(b"\x80model"), replaces="model")
    assert not left.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.csv", "model.joblib"]
