import os

import pytest

# Qt needs a platform; without a display pytest-qt would abort the interpreter.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

try:  # keep the suite's settings (recent files...) out of the user's own configuration
    from PySide6.QtCore import QCoreApplication, QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    QCoreApplication.setOrganizationName("nnbench-tests")
    QCoreApplication.setApplicationName("nnbench-tests")
except ImportError:  # the engine and data tests run without Qt
    pass


@pytest.fixture
def errors(monkeypatch):
    """Error dialogs become a list of their texts (UI tests only)."""
    from nnbench.ui import dialogs

    shown: list[str] = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, text: shown.append(text))
    return shown


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test starts with no remembered settings (recent files, the MNIST mirror)."""
    try:
        from PySide6.QtCore import QSettings
    except ImportError:
        yield
        return
    QSettings().clear()
    yield


@pytest.fixture(autouse=True)
def unsaved_work_is_discarded(monkeypatch):
    """Closing or replacing a trained window asks Save / Discard / Cancel; a test that does not
    answer itself discards (a real message box would wait for a click). Tests of the question
    patch ``dialogs.ask_unsaved`` themselves."""
    try:
        from nnbench.ui import dialogs
    except ImportError:  # the engine and data tests run without Qt
        yield
        return
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda parent, what: asked.append(what) or "discard",
                        raising=False)
    yield asked
