"""Where jobs run: the local process pool (:mod:`.local`), a Dask cluster (:mod:`.dask_cluster`), Slurm job arrays through submitit (:mod:`.slurm`)."""
