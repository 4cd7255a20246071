"""What runs on AWS Glue: the ETL job (``etl``, reading records with ``records``) and what it
shares with the program and the CLI: the schema contract (``contract``, with ``domains``), the
warehouse layout (``layout``), the gate thresholds (``gate``) and the run summary
(``run_summary``).

Plain modules with no dependency beyond what Glue 5.0 provides (PySpark and boto3), so the
Pulumi program can zip this folder as it is and deploy it with ``--extra-py-files``.
"""
