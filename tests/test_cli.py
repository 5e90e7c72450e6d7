import re
import subprocess
import sys

import pytest

from sklearn_ser.cli import main


def test_demo_reports_both_protocols(tmp_path, capsys):
    assert main(["demo", "--speakers", "2", "--words", "3", "--n-jobs", "1", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "42 files" in out.out
    rows = {line.split("  ")[0].strip(): line for line in out.out.splitlines() if "%" in line and "±" in line}
    assert set(rows) == {"random (stratified 5-fold)", "speaker-independent (leave one speaker out)"}
    for line in rows.values():
        scores = [float(s) for s in re.findall(r"(\d+\.\d)% ±", line)]
        assert len(scores) == 2 and all(0 <= s <= 100 for s in scores)
    assert "MFCC" in out.err
    assert (tmp_path / "features").is_dir()
    assert main(["demo", "--speakers", "2", "--words", "3", "--n-jobs", "1", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == out.out


def test_demo_error_is_reported(tmp_path, capsys):
    assert main(["demo", "--speakers", "0", "--cache-dir", str(tmp_path)]) == 1
    assert "n_speakers" in capsys.readouterr().err


def test_command_is_required(capsys):
    with pytest.raises(SystemExit):
        main([])


def test_help_and_argument_errors_import_nothing_heavy():
    probe = (
        "import sys\n"
        "from sklearn_ser.cli import main\n"
        "for argv in (['--help'], ['fit', '--help'], ['fit', '--corpus', 'tess:x'],\n"
        "             ['fit', '--corpus', 'tess:/no/such/tess', '--recipe', 'svm-mfcc', '--out', 'm.joblib']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'librosa', 'numpy', 'pandas', 'sklearn') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "[]"
    assert "the following arguments are required: --recipe, --out" in run.stderr
    assert "sklearn-ser: error: --corpus tess:/no/such/tess: no folder /no/such/tess." in run.stderr


def test_a_corpus_that_is_not_there_is_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    cases = [
        (f"synthetic:{a_file}", "is a file; synthetic:PATH names the corpus folder"),
        (f"manifest:{tmp_path / 'none.csv'}", "no manifest file"),
        (f"emodb:{tmp_path / 'missing'}", "no folder"),
    ]
    for spec, message in cases:
        assert main(["fit", "--corpus", spec, "--recipe", "svm-mfcc", "--out", str(tmp_path / "m.joblib")]) == 1
        assert message in capsys.readouterr().err
    assert a_file.read_text() == "x" and not (tmp_path / "m.joblib").exists()


def test_the_command_lines_choices_are_the_librarys():
    from sklearn_ser._choices import CORPUS_KINDS, LABEL_SETS, PROTOCOLS
    from sklearn_ser.datasets import LOADERS
    from sklearn_ser.datasets._labels import _LABEL_SETS
    from sklearn_ser.model_selection import PROTOCOLS as LIBRARY_PROTOCOLS

    assert CORPUS_KINDS == tuple(LOADERS) and LABEL_SETS == _LABEL_SETS and PROTOCOLS == LIBRARY_PROTOCOLS
