"""fundiff.workflow.runner.run: the one script convention (log file, one-line user errors)."""

import io
import logging
import sys
import traceback
from types import SimpleNamespace

import pytest

from fundiff.errors import CheckpointError, UserError
from fundiff.workflow.runner import run


@pytest.fixture
def streams(monkeypatch):
    """run() rebinds sys.stderr, the exception hook and the root logger: isolate and restore.

    The terminal (sys.__stderr__) is a StringIO here, so what a failing job shows is readable.
    """
    terminal, before = io.StringIO(), sys.stderr
    monkeypatch.setattr(sys, "__stderr__", terminal)
    monkeypatch.setattr(sys, "stderr", before)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield terminal
    if sys.stderr not in (before, terminal):  # the log file run() opened
        sys.stderr.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def smk(log=None):
    return SimpleNamespace(
        input=SimpleNamespace(),
        output=SimpleNamespace(),
        params=SimpleNamespace(),
        log=[str(log)] if log else [],
    )


def test_main_gets_the_rule_and_a_logger_writing_the_log_file(tmp_path, streams):
    seen = {}

    def main(rule, log):
        seen["rule"], seen["log"] = rule, log
        log.info("made %d cells", 3)
        print("a warning", file=sys.stderr)

    rule = smk(tmp_path / "logs" / "job.log")  # the folder does not exist yet
    assert run(rule, main) is None
    assert seen["rule"] is rule
    assert isinstance(seen["log"], logging.Logger) and seen["log"].name == "fundiff"
    sys.stderr.flush()
    text = (tmp_path / "logs" / "job.log").read_text()
    assert "INFO made 3 cells" in text and "a warning" in text
    assert "CUDA_VISIBLE_DEVICES=" in text  # where the job ran
    assert streams.getvalue() == ""  # nothing on the terminal when all goes well


def test_user_error_is_one_line_in_the_log_and_on_the_terminal(tmp_path, streams):
    def main(rule, log):
        raise CheckpointError("epoch_005.pt: not a checkpoint\n  second line of detail")

    with pytest.raises(SystemExit) as e:
        run(smk(tmp_path / "job.log"), main)
    assert e.value.code == 1
    sys.stderr.flush()
    log_text = (tmp_path / "job.log").read_text()
    line = "error: epoch_005.pt: not a checkpoint\n"
    assert log_text.endswith(line) and log_text.count("error:") == 1
    assert "Traceback" not in log_text and "second line" not in log_text
    assert streams.getvalue() == line


def test_user_error_without_a_message_names_its_type(streams):
    sys.stderr = streams  # no log file: stderr is the terminal itself

    def main(rule, log):
        raise UserError()

    with pytest.raises(SystemExit) as e:
        run(smk(), main)
    assert e.value.code == 1
    errors = [ln for ln in streams.getvalue().splitlines() if ln.startswith("error:")]
    assert errors == ["error: UserError"]  # printed once when stderr is the terminal


def test_other_exceptions_keep_their_traceback(tmp_path, streams):
    def main(rule, log):
        raise KeyError("bug")

    with pytest.raises(KeyError, match="bug") as e:
        run(smk(tmp_path / "job.log"), main)
    assert streams.getvalue() == ""  # not turned into a one-liner
    # the uncaught exception reaches the hook run() installed: full traceback in the log
    sys.excepthook(e.type, e.value, e.tb)
    sys.stderr.flush()
    text = (tmp_path / "job.log").read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'bug'" in text
    assert "in main" in text and "error:" not in text
    assert traceback.extract_tb(e.tb)[-1].name == "main"


def test_the_hook_prints_a_user_error_as_one_line(tmp_path, streams):
    run(smk(tmp_path / "job.log"), lambda rule, log: None)
    try:
        raise UserError("bad key 'x'")
    except UserError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    sys.stderr.flush()
    text = (tmp_path / "job.log").read_text()
    assert text.endswith("error: bad key 'x'\n") and "Traceback" not in text
