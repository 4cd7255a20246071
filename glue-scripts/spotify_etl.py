"""The Glue job's script: Glue runs this file; the code lives in the ``spotify_glue`` package,
which the job loads through ``--extra-py-files``."""

from spotify_glue.etl import main

if __name__ == "__main__":
    main()
