"""SigmaHQ's own test scripts, pinned here, run from tests/test_sigmahq_checks.py on our rule folders
only: pytest does not collect them itself (they walk the folders of the working directory)."""

collect_ignore = ["test_rules.py", "test_logsource.py"]
