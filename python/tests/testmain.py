"""Run one test file for `make check`: with pytest when the interpreter
has it (Debian's python3-pytest, installed by scripts/install-deps),
else with unittest.  Exit status as Automake wants it: 0 passed, 1
failed, 77 everything skipped (e.g. no smartsockd built)."""
import os
import sys
import unittest


class _Outcomes:
    """pytest plugin: counts what ran."""

    def __init__(self):
        self.passed = 0
        self.skipped = 0

    def pytest_runtest_logreport(self, report):
        if report.skipped:
            self.skipped += 1
        elif report.when == "call" and report.passed:
            self.passed += 1


def main(module_name):
    path = os.path.abspath(sys.modules[module_name].__file__)
    try:
        import pytest
    except ImportError:
        pytest = None
    if pytest is not None:
        seen = _Outcomes()
        rc = int(pytest.main(["-q", "-p", "no:cacheprovider",
                              "--rootdir", os.path.dirname(path), path],
                             plugins=[seen]))
        if rc == 0 and seen.passed == 0 and seen.skipped > 0:
            sys.exit(77)
        sys.exit(0 if rc == 0 else 77 if rc == 5 else 1)
    prog = unittest.main(module=module_name, exit=False, verbosity=2)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    # A skip in setUpModule counts as one skip and no test run.
    sys.exit(77 if r.skipped and r.testsRun <= len(r.skipped) else 0)
