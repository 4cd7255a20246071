"""What runs on AWS Glue: the schema contract (``contract``) and the ETL job (``etl``).

Plain modules with no dependency beyond what Glue 5.0 provides (PySpark and boto3), so the
Pulumi program can zip this folder as it is and deploy it with ``--extra-py-files``.
"""
