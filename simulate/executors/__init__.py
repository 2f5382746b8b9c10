"""Where jobs run: the local process pool (:mod:`.local`); distributed engines and Slurm arrays to come."""
