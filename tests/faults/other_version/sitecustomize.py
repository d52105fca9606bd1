"""Test-only: makes every Python process started with this folder on PYTHONPATH (the CLI, the daemon it
starts and that daemon's workers, which inherit its environment) report the stepaudio version named by
SA_FAULTS_OTHER_VERSION, to simulate a daemon of another stepaudio release (tests/faults/test_versions.py).
Python imports `sitecustomize` at start-up, before any module reads stepaudio_protos.__version__."""
import os

_version = os.environ.get("SA_FAULTS_OTHER_VERSION")
if _version:
    import stepaudio_protos

    stepaudio_protos.__version__ = _version

if os.environ.get("SA_FAULTS_NO_JOBS_FIELD") == "absent":
    # a daemon from before HealthReply.no_jobs: the field stays false whatever it is doing
    from stepaudiod.scheduler import Scheduler

    Scheduler.has_jobs = lambda self: True
