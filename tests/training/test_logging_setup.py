"""`--report_to` resolution (a tracker that is not installed warns, never crashes) and quiet third-party logs."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from qclip_hf.training.logging_setup import quiet_third_party_logs, resolve_report_to

INSTALLED = {name: importlib.util.find_spec(name) is not None for name in ("tensorboard", "wandb")}


@pytest.mark.parametrize("name", ["tensorboard", "wandb"])
def test_a_named_tracker_is_used_when_installed_else_skipped_with_a_warning(name, caplog):
    with caplog.at_level(logging.WARNING):
        resolved = resolve_report_to(name)
    if INSTALLED[name]:
        assert resolved == [name] and not caplog.records
    else:
        assert resolved is None
        assert f"--report_to {name}: {name} is not installed" in caplog.text and f"pip install {name}" in caplog.text


def test_all_means_every_installed_tracker_and_none_means_no_tracking(caplog):
    expected = [name for name in ("tensorboard", "wandb") if INSTALLED[name]] or None
    assert resolve_report_to("all") == expected
    assert resolve_report_to("none") is None and resolve_report_to(None) is None
    assert resolve_report_to(["none", "tensorboard"]) is None
    with pytest.raises(ValueError, match="allowed values are \\['tensorboard', 'wandb', 'all', 'none'\\]"):
        resolve_report_to("comet")


def test_quiet_logs_raise_third_party_loggers_to_warning_and_verbose_restores_info():
    quiet_third_party_logs(verbose=False)
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpx2").level == logging.WARNING
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    quiet_third_party_logs(verbose=True)
    assert logging.getLogger("httpx").level == logging.INFO
    quiet_third_party_logs(verbose=False)
