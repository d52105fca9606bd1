"""The Ray runner's parts that need no cluster: temp-file sweeping, pool sizing, start errors, and one
actor job run in-process on the tiny engine (atomic, no-clobber output)."""
from __future__ import annotations

import json

import pytest

from sa_helpers import write_wav
from stepaudio_ray import runner
from stepaudio_ray.actor import ActorStartError, EngineActor
from stepaudio_ray.tasks import ActorConfig, RayTask


def test_sweep_deletes_only_ray_temp_files_of_the_given_targets(tmp_path):
    names = [".a.wav.stepaudio-tmp-ray-run1-1.wav",   # a killed run's temp file for a.wav: swept
             ".a.wav.stepaudio-tmp-ray-run2-1.wav",   # this run's (run2): swept too without a run id
             ".a.wav.stepaudio-tmp-1f-3.wav",         # the daemon's temp file: never ours to delete
             ".c.wav.stepaudio-tmp-ray-run1-4.wav",   # another output's: not in this batch
             "a.wav", "b.wav.stepaudio-tmp-ray-run1-2.wav"]  # the output itself; not hidden
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    targets = [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]
    assert [p.name for p in runner.sweep_temp_files(targets, "run2")] == [names[1]]
    assert [p.name for p in runner.sweep_temp_files(targets)] == [names[0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])


def test_pool_defaults_come_from_the_cluster():
    gpus = runner.plan_pool({"CPU": 64, "GPU": 8}, jobs=100, actors=None, gpus_per_actor=None, threads=0)
    assert (gpus.actors, gpus.gpus_per_actor, gpus.cpus_per_actor) == (8, 1.0, 1.0)
    halves = runner.plan_pool({"CPU": 64, "GPU": 8}, jobs=100, actors=None, gpus_per_actor=0.5, threads=0)
    assert halves.actors == 16
    cpus = runner.plan_pool({"CPU": 8}, jobs=3, actors=None, gpus_per_actor=None, threads=2)
    assert (cpus.actors, cpus.gpus_per_actor, cpus.cpus_per_actor) == (3, 0.0, 2.0)  # never more than jobs
    with pytest.raises(runner.RayRunError, match="has 0 GPU"):
        runner.plan_pool({"CPU": 8}, jobs=3, actors=None, gpus_per_actor=1, threads=0)


def test_start_error_is_found_in_rays_error_text():
    inner = ActorStartError("MODEL_MISSING", "on node n1 (10.0.0.1): models folder not found: /m", "share it")
    wrapped = RuntimeError(f"The actor died because of an error raised in its creation task\n  {inner}\nmore")
    error = runner.actor_start_error(wrapped)
    assert error is not None and (error.reason, error.message, error.hint) == \
        ("MODEL_MISSING", "on node n1 (10.0.0.1): models folder not found: /m", "share it")
    assert runner.actor_start_error(RuntimeError("something else")) is None


def test_actor_job_writes_atomically_and_never_clobbers(tiny_models, tmp_path):
    ref = write_wav(tmp_path / "ref.wav")
    config = ActorConfig(load={"models_dir": str(tiny_models), "variant": "base", "device": "cpu", "threads": 1},
                         run_id="r1", started_at=0.0)
    actor = EngineActor(config.__dict__)
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    request = pb.JobRequest(clone=pb.CloneJob(ref_audio=str(ref), ref_text="a ref", text="hi"),
                            output=str(tmp_path / "out.wav"), seed=7)
    task = RayTask(line=3, request=request.SerializeToString().hex(), target=request.output)
    out = actor({"line": [3], "task": [json.dumps(task.__dict__)]})
    result = json.loads(out["result"][0])
    assert out["line"] == [3] and result["status"] == "ok" and result["options"]["seed"] == 7
    assert "load" in result["timings"] and result["output"] == task.target
    again = actor.run(task)  # the output exists now, and --force was not given
    assert again["status"] == "error" and again["error"]["reason"] == "OUTPUT_EXISTS"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "ref.wav"]  # no temp file left
    request.force = True
    forced = actor.run(RayTask(line=3, request=request.SerializeToString().hex(), target=request.output))
    assert forced["status"] == "ok" and "load" not in forced["timings"]  # only the actor's first job loads


def test_actor_without_models_names_its_node(tmp_path):
    config = ActorConfig(load={"models_dir": str(tmp_path / "none"), "variant": "base"}, run_id="r", started_at=0)
    with pytest.raises(ActorStartError) as caught:
        EngineActor(config.__dict__)
    error = runner.actor_start_error(caught.value)
    assert error is not None and error.reason == "MODEL_MISSING" and "on node" in error.message


def test_an_address_where_nothing_listens_fails_at_once():
    import socket

    with socket.socket() as s:  # a port that was just free: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(runner.RayRunError, match=f"no Ray cluster answers at 127.0.0.1:{port}") as caught:
        with runner.Cluster(f"127.0.0.1:{port}"):
            pass
    assert caught.value.reason == "UNAVAILABLE" and "--ray local" in caught.value.hint
    assert runner._is_loopback("127.0.0.1:6379") and not runner._is_loopback("10.0.0.5:6379")
