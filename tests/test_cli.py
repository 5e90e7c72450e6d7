import re

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
