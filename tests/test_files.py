"""Every file the toolkit writes is whole or untouched; outputs are checked before the work."""

import ast
import os
import stat
from pathlib import Path

import pytest

import sklearn_ser
from sklearn_ser._files import atomic_write, check_writable, check_writable_folder, write_text_atomically
from sklearn_ser.cli import main

PACKAGE = Path(sklearn_ser.__file__).parent
# Calls that write a file in place when given a path.
WRITING_CALLS = {"write_text", "write_bytes", "savefig", "to_csv", "to_json", "save", "savez", "dump", "write"}
DESTINATION_ARGUMENT = {"save": 1, "dump": 1}  # torch.save(obj, f), joblib.dump(obj, f); the others take f first
# Files written in place on purpose, with the reason.
IN_PLACE = {
    "model_selection/_storage.py": "Optuna's journal is shared by live workers that append to it under its lock; "
    "its repair appends or truncates under the same lock, as Optuna's own writers do",
    "serve/_uploads.py": "the request body is fed to python-multipart's parser, which saves uploads in the request's "
    "own temporary folder, removed when the request ends: inputs, not outputs",
}


def _failing_write(fh):
    fh.write(b"half of it")
    raise OSError(28, "No space left on device")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.joblib"
    target.write_bytes(b"the old model")
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, _failing_write)
    assert target.read_bytes() == b"the old model"
    assert [path.name for path in tmp_path.iterdir()] == ["model.joblib"]


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "report.md"
    write_text_atomically(target, "old", replaces="report")

    def interrupted(fh):
        fh.write(b"new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_a_replaced_file_keeps_its_permissions_and_a_new_one_follows_the_umask(tmp_path):
    target = tmp_path / "shared.csv"
    target.write_text("file,label\n")
    target.chmod(0o640)
    write_text_atomically(target, "file,label\na.wav,sad\n", replaces="table")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() == "file,label\na.wav,sad\n"
    umask = os.umask(0o027)
    try:
        write_text_atomically(tmp_path / "fresh.csv", "x", replaces="table")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "fresh.csv").stat().st_mode) == 0o640


def test_a_link_is_followed_and_a_non_regular_target_is_never_replaced(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("start,end\n")
    (tmp_path / "link.txt").symlink_to(real)
    write_text_atomically(tmp_path / "link.txt", "start,end\n0,1\n", replaces="table")
    assert (tmp_path / "link.txt").is_symlink() and real.read_text() == "start,end\n0,1\n"
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="pipe.*not a regular file"):
        write_text_atomically(tmp_path / "pipe", "x", replaces="table")
    assert stat.S_ISFIFO((tmp_path / "pipe").stat().st_mode)


@pytest.mark.parametrize(
    "make_target, match",
    [
        (lambda tmp: tmp, "is a folder"),
        (lambda tmp: tmp / "a_file.txt" / "model.joblib", "a_file.txt is a file, not a folder"),
        (lambda tmp: tmp / "a_file.txt" / "deeper" / "model.joblib", "a_file.txt is a file, not a folder"),
    ],
    ids=["a folder", "under a file", "deep under a file"],
)
def test_an_output_that_cannot_be_written_is_refused(tmp_path, make_target, match):
    (tmp_path / "a_file.txt").write_text("x")
    with pytest.raises(ValueError, match=f"--out .*{match}"):
        check_writable(make_target(tmp_path), option="--out")
    check_writable(tmp_path / "new" / "model.joblib", option="--out")  # the last folder of the path is created
    with pytest.raises(ValueError, match=r"--out .*model.joblib: the folder .*new does not exist. Only the last"):
        check_writable(tmp_path / "new" / "folder" / "model.joblib", option="--out")
    with pytest.raises(ValueError, match=r"--plots .*figures: the folder .*new does not exist"):
        check_writable_folder(tmp_path / "new" / "figures", option="--plots")
    with pytest.raises(ValueError, match="--plots .*a_file.txt is a file"):
        check_writable_folder(tmp_path / "a_file.txt" / "figures", option="--plots")
    check_writable_folder(tmp_path / "figures", option="--plots")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="Permission denied in"):
            check_writable(locked / "model.joblib", option="--out")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "--recipe", "svm-mfcc", "--out", "{file}/model.joblib"],
        ["fit", "--recipe", "svm-mfcc", "--out", "{folder}"],
        ["evaluate", "--recipe", "svm-mfcc", "--out", "{file}/report"],
        ["search", "--recipe", "svm-mfcc", "--n-trials", "1", "--out", "{folder}"],
        ["search", "--recipe", "svm-mfcc", "--n-trials", "1", "--plots", "{file}/figures"],
    ],
    ids=["fit under a file", "fit into a folder", "evaluate under a file", "search into a folder", "plots"],
)
def test_the_command_line_refuses_an_unwritable_output_before_any_work(argv, tmp_path, capsys, monkeypatch):
    import sklearn_ser._predict

    def never(*args, **kwargs):
        raise AssertionError("the corpus was loaded before the output was checked")

    monkeypatch.setattr(sklearn_ser._predict, "load_corpora", never)
    (tmp_path / "file").write_text("x")
    argv = [arg.format(file=tmp_path / "file", folder=tmp_path) for arg in argv]
    assert main([*argv[:1], "--corpus", f"synthetic:{tmp_path}", *argv[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sklearn-ser: error: --") and str(tmp_path) in err, err


def _writing_calls(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITING_CALLS:
            yield node


def _writes_to_a_path(call):
    """A call whose destination is a path expression rather than an open file object ``fh``."""
    position = DESTINATION_ARGUMENT.get(call.func.attr, 0)
    if len(call.args) <= position:
        return False  # to_csv() and to_json() return text
    destination = call.args[position]
    return not (isinstance(destination, ast.Name) and destination.id == "fh")


def test_every_file_the_package_writes_goes_through_atomic_write():
    offenders = []
    for module in sorted(PACKAGE.rglob("*.py")):
        if module.name == "_files.py" or str(module.relative_to(PACKAGE)) in IN_PLACE:
            continue
        source = module.read_text()
        for call in _writing_calls(source):
            if _writes_to_a_path(call):
                offenders.append(f"{module.relative_to(PACKAGE)}:{call.lineno}: {ast.get_source_segment(source, call)}")
    assert not offenders, "\n".join(offenders)
