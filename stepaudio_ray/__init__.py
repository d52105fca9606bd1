"""`stepaudio batch --ray`: the JSON-lines batch on a Ray cluster (the optional extra `ray`).

The CLI validates the lines as the local batch does and hands the good ones to `runner.run_on_ray`, which
runs them with Ray Data over a pool of `actor.EngineActor`s, each hosting our engine (loaded once per
actor, in-process: there is no daemon on the Ray path and no keep-alive; the pool lives for the run).
Nothing outside this package imports `ray` (import-linter contract in pyproject.toml), and the CLI
imports this package only on the --ray path.
"""
