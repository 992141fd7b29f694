"""Many jobs: a manifest of CLI jobs checked whole (`manifest`, `spec`), one job run in a worker
process that keeps its models loaded (`run`), a local process pool or Ray tasks to run them
(`local`, `ray`), and the results file that makes a batch resumable (`results`)."""
