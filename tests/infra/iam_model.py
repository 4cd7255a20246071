"""The IAM request model: every request the Glue job and the crawler make, as AWS authorizes it.

Each request names its action, resource ARN and request context (``s3:prefix``,
``s3:delimiter``, ``s3:max-keys``) and says where it comes from. The S3 requests follow what
Spark's S3 file systems do with a path (``SOURCES`` lists the documents):

- ``probe(path)`` (``getFileStatus``/``exists``): HEAD of the bare key, of the ``key/`` marker
  (S3A) and of the ``key_$folder$`` marker (EMRFS, Glue's S3 file system), then a LIST of
  ``key/`` with and without the delimiter. A HEAD of a missing key returns 404 only when the
  caller may list the bucket, and 403 otherwise (S3 HeadObject), so every probe of a key that
  may be missing also needs s3:ListBucket on the bucket without a prefix.
- ``mkdirs(path)``: probes the path and each parent, then PUTs the ``key/`` and
  ``key_$folder$`` markers of each directory it creates.
- ``create(path)``: probes, creates the parent, PUTs the object, DELETEs the parent markers.
- ``delete_tree(path)``: lists below it, DELETEs each object and marker, re-creates the parent
  marker when the parent would vanish.
- ``spark_write(path)``: Hadoop's commit protocol: task files under ``_temporary/``, renamed
  (COPY = GET source + PUT target, then DELETE) into place, ``_SUCCESS`` written, ``_temporary``
  deleted.

Beside the data: the run's own bookkeeping (``job_run_requests``, ``rejected_run_requests``),
Glue's logs and metrics, the crawler's catalog reads, and with the stack key the KMS requests
S3 makes for the objects read and written.

Locations come from the same builders the program and the job use (``WarehouseLayout``,
``naming``), so a layout change moves the model with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from spotify_glue import contract
from spotify_glue.layout import STAGING_PREFIX, TABLE_NAME, WarehouseLayout

from infra import naming
from infra.policies import GLUE_METRICS_NAMESPACE

SOURCES: Final[dict[str, str]] = {
    "s3-head-object": "https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html"
    " (HEAD needs s3:GetObject; a missing key is 404 only with s3:ListBucket, else 403)",
    "s3-list-objects": "https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html"
    " (s3:ListBucket on the bucket; s3:prefix, s3:delimiter and s3:max-keys are the request's)",
    "s3a": "Hadoop S3A, hadoop-aws/tools/hadoop-aws/assumed_roles.md (a path needs its bare"
    " key, its key/ marker and key/*; writes need Put, Delete and AbortMultipartUpload)",
    "emrfs": "https://repost.aws/knowledge-center/emr-s3-empty-files (EMRFS writes and deletes"
    " key_$folder$ markers for the directories it creates)",
    "commit": "Hadoop FileOutputCommitter: task files under _temporary/, renamed into place,"
    " _SUCCESS written, _temporary deleted",
    "glue-script": "https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue"
    "-arguments.html (Glue fetches the script and --extra-py-files; Spark UI logs and"
    " --TempDir are written by the job)",
    "glue-table": "https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html"
    " (table calls are authorized on the catalog, the database and the table)",
    "crawler": "https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-crawler-crawling.html"
    " (CatalogTarget: the crawler reads the named table's S3 location: list, then get)",
    "glue-logs": "https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html"
    " (Glue 5.0 logs to /aws-glue/jobs/error and /aws-glue/jobs/output) and"
    " https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html (LogGroupName:"
    " /aws-glue/jobs-<role>-<security configuration>/ when a security configuration encrypts"
    " the logs, which needs logs:AssociateKmsKey). Crawlers log to /aws-glue/crawlers, or"
    " /aws-glue/crawlers-role/<role>-<security configuration> with one",
    "glue-metrics": "https://docs.aws.amazon.com/glue/latest/dg/monitoring-awsglue-with"
    "-cloudwatch-metrics.html (--enable-metrics: PutMetricData in the Glue namespace)",
    "s3-kms": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"
    " (an SSE-KMS PUT needs kms:GenerateDataKey, a GET kms:Decrypt)",
}

RUN_ID: Final = "20261129T061500Z-1a2b3c4d"
OLD_RUN_IDS: Final = ("20261126T061500Z-0a0b0c0d", "20261125T061500Z-0e0f0a0b")
"""A run being written, and old runs the job prunes."""


@dataclass(frozen=True)
class Request:
    """One request as IAM sees it."""

    principal: str
    """Who makes it: ``job`` or ``crawler``."""
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    """Key of ``SOURCES`` plus what the caller is doing."""

    @property
    def label(self) -> str:
        context = "".join(f" {k}={v!r}" for k, v in sorted(self.context.items()))
        return f"{self.principal} {self.action} {self.resource}{context} [{self.source}]"


@dataclass(frozen=True)
class Names:
    """The deployed names the requests address."""

    partition: str
    region: str
    account: str
    staging: str
    warehouse: str
    assets: str
    database: str
    glue_package_key: str = naming.glue_package_key("0123456789abcdef")
    job_role: str = "spotify-dev-job-role"
    crawler_role: str = "spotify-dev-crawler-role"
    security_configuration: str = "spotify-dev-security"
    kms_key_arn: str | None = None
    """The stack's customer-managed key, when the buckets and logs are encrypted with it."""


class _S3:
    """Requests one principal makes on one bucket through an S3 file system."""

    def __init__(self, principal: str, names: Names, bucket: str) -> None:
        self.principal, self.names, self.bucket = principal, names, bucket

    def _object(self, action: str, key: str, source: str) -> Request:
        arn = f"arn:{self.names.partition}:s3:::{self.bucket}/{key}"
        return Request(self.principal, action, arn, {}, source)

    def _list(self, source: str, prefix: str | None, delimiter: str | None = None) -> Request:
        context = {} if prefix is None else {"s3:prefix": prefix}
        if delimiter is not None:
            context["s3:delimiter"] = delimiter
        arn = naming.bucket_arn(self.names.partition, self.bucket)
        return Request(self.principal, "s3:ListBucket", arn, context, source)

    def get(self, key: str, why: str = "read") -> Request:
        return self._object("s3:GetObject", key, f"s3-head-object: {why} {key}")

    def put(self, key: str, why: str = "write") -> Request:
        return self._object("s3:PutObject", key, f"s3a: {why} {key}")

    def delete(self, key: str, why: str = "delete") -> Request:
        return self._object("s3:DeleteObject", key, f"s3a: {why} {key}")

    def abort_upload(self, key: str) -> Request:
        return self._object(
            "s3:AbortMultipartUpload", key, f"s3a: abort a failed task's upload of {key}"
        )

    def listing(self, key: str, why: str) -> Iterator[Request]:
        """A directory listed as ``key/`` with and without the delimiter, and as ``key``."""
        yield self._list(f"s3-list-objects: {why} {key}/", f"{key}/", "/")
        yield self._list(f"s3-list-objects: {why} {key}/ (recursive)", f"{key}/")
        yield self._list(f"s3-list-objects: {why} {key} (no slash)", key)

    def probe(self, key: str) -> Iterator[Request]:
        """``getFileStatus(key)``: the key, both markers, a listing; 404 needs ListBucket."""
        yield self.get(key, "HEAD the bare key")
        yield self.get(f"{key}/", "HEAD the S3A directory marker")
        yield self.get(f"{key}_$folder$", "HEAD the EMRFS directory marker")
        yield from self.listing(key, "is it a directory:")
        yield self._list(f"s3-head-object: 404 (not 403) for a missing {key}", None)

    def mkdirs(self, key: str) -> Iterator[Request]:
        """Create ``key`` and every missing parent; EMRFS and S3A write markers."""
        parts = key.strip("/").split("/")
        for depth in range(len(parts), 0, -1):
            directory = "/".join(parts[:depth])
            yield from self.probe(directory)
            yield self.put(f"{directory}_$folder$", "EMRFS marker of the new directory")
            yield self.put(f"{directory}/", "S3A marker of the new directory")

    def create(self, key: str) -> Iterator[Request]:
        """``fs.create(key, overwrite)``: probe, parent, PUT, drop the parent's markers."""
        parent = key.rsplit("/", 1)[0]
        yield from self.probe(key)
        yield from self.mkdirs(parent)
        yield self.put(key)
        yield self.delete(f"{parent}_$folder$", "drop the parent's EMRFS marker")
        yield self.delete(f"{parent}/", "drop the parent's S3A marker")

    def rename(self, source: str, target: str) -> Iterator[Request]:
        """S3 has no rename: COPY (GET source, PUT target), then DELETE the source."""
        yield self.get(source, "copy source")
        yield self.put(target, "copy target")
        yield self.delete(source, "rename source")

    def delete_tree(self, key: str) -> Iterator[Request]:
        """``fs.delete(key, recursive=True)``, keeping the parent directory in existence."""
        parent = key.rsplit("/", 1)[0]
        yield from self.probe(key)
        yield from self.listing(key, "what to delete below")
        for doomed in (f"{key}/part-00000.snappy.parquet", f"{key}/", f"{key}_$folder$"):
            yield self.delete(doomed, "recursive delete")
        yield from self.probe(parent)
        yield self.put(f"{parent}/", "keep the emptied parent (S3A marker)")
        yield self.put(f"{parent}_$folder$", "keep the emptied parent (EMRFS marker)")

    def spark_write(self, folder: str) -> Iterator[Request]:
        """A DataFrame written to ``folder`` with Hadoop's commit protocol."""
        attempt = f"{folder}/_temporary/0/_temporary/attempt_202611290615_0001_m_000000_0"
        task_file = f"{attempt}/part-00000.snappy.parquet"
        final = f"{folder}/part-00000.snappy.parquet"
        yield from self.probe(folder)
        yield from self.mkdirs(f"{folder}/_temporary/0")
        yield from self.create(task_file)
        yield self.abort_upload(task_file)
        yield from self.listing(f"{folder}/_temporary/0", "commit: task outputs in")
        yield from self.rename(task_file, final)
        yield from self.delete_tree(f"{folder}/_temporary")
        yield from self.create(f"{folder}/_SUCCESS")

    def read_file(self, key: str) -> Iterator[Request]:
        yield from self.probe(key)
        yield self.get(key, "GET (ranges of)")


def _relative(layout: WarehouseLayout, location: str) -> str:
    """A layout location as a key in the warehouse bucket, without the trailing slash."""
    return location.removeprefix(layout.root).strip("/")


def job_requests(names: Names) -> list[Request]:
    """Everything ``spotify_glue.etl.run`` and Glue do for one published run that prunes two
    old runs."""
    staging = _S3("job", names, names.staging)
    warehouse = _S3("job", names, names.warehouse)
    assets = _S3("job", names, names.assets)
    layout = naming.layout(names.warehouse)
    requests: list[Request] = []

    # Glue fetches the entry script and the package before the job starts.
    script = naming.ASSETS_SCRIPTS_PREFIX + naming.JOB_SCRIPT_NAME
    requests += [assets.get(script, "glue-script: fetch"), assets.get(names.glue_package_key)]
    requests += assets.read_file(names.glue_package_key)

    # check_input: the staging folder, each source file, its header; Spark reads it.
    folder = STAGING_PREFIX.rstrip("/")
    requests += staging.probe(folder)
    requests += staging.listing(folder, "list the staged files in")
    for source in contract.JOB_SOURCES:
        requests += staging.read_file(f"{folder}/{source.file_name}")

    # The run's quarantine and table folders, written with Spark's commit protocol.
    requests += warehouse.spark_write(_relative(layout, layout.quarantine_location(RUN_ID)))
    requests += warehouse.spark_write(_relative(layout, layout.table_location(RUN_ID)))

    # The published-run pointer and the last-run summary (fs.create, overwrite).
    for summary in (layout.published_location, layout.summary_location):
        requests += warehouse.create(_relative(layout, summary))

    # prune_runs: list each root, delete old run folders below it.
    for root, run_location in (
        (layout.table_root, layout.table_location),
        (layout.quarantine_root, layout.quarantine_location),
    ):
        requests += warehouse.probe(_relative(layout, root))
        requests += warehouse.listing(_relative(layout, root), "runs in")
        for old in OLD_RUN_IDS:
            requests += warehouse.delete_tree(_relative(layout, run_location(old)))

    # Glue's --TempDir and the Spark UI event log (written in progress, renamed at the end).
    temp = f"{naming.ASSETS_TEMP_PREFIX}jr_0123456789abcdef"
    requests += assets.create(f"{temp}/scratch")
    requests += assets.delete_tree(temp)
    events = naming.ASSETS_SPARK_UI_PREFIX + "spark-application-1764396900000"
    requests += assets.create(f"{events}.inprogress")
    requests += assets.rename(f"{events}.inprogress", events)

    # The catalog switch: GetTable then UpdateTable on the one table.
    table = naming.glue_table_arns(
        names.partition, names.region, names.account, names.database, TABLE_NAME
    )
    for action in ("glue:GetTable", "glue:UpdateTable"):
        requests += [Request("job", action, arn, {}, f"glue-table: {action}") for arn in table]
    return requests


def _kms(principal: str, names: Names, requests: list[Request]) -> list[Request]:
    """The KMS requests S3 makes for ``requests`` when the buckets use the stack key: a data
    key for each object written, a decrypt for each object read."""
    if names.kms_key_arn is None:
        return []
    actions = {"s3:PutObject": "kms:GenerateDataKey", "s3:GetObject": "kms:Decrypt"}
    wanted = sorted({actions[r.action] for r in requests if r.action in actions})
    why = "s3-kms: SSE-KMS with the stack key"
    return [Request(principal, action, names.kms_key_arn, {}, why) for action in wanted]


def _log_group(names: Names, group: str) -> str:
    return f"arn:{names.partition}:logs:{names.region}:{names.account}:log-group:{group}"


def _logs(principal: str, names: Names, groups: list[str]) -> list[Request]:
    """Creating each log group and a stream in it, writing events, and (with the stack key)
    associating the key with the group."""
    requests = []
    for group in groups:
        arn = _log_group(names, group)
        stream = f"{arn}:log-stream:jr_0123456789abcdef-driver"
        why = f"glue-logs: {group}"
        # The Service Authorization Reference: CreateLogGroup and AssociateKmsKey act on the
        # group, CreateLogStream and PutLogEvents on the stream.
        requests += [
            Request(principal, "logs:CreateLogGroup", arn, {}, why),
            Request(principal, "logs:CreateLogStream", stream, {}, why),
            Request(principal, "logs:PutLogEvents", stream, {}, why),
        ]
        if names.kms_key_arn is not None:
            requests.append(Request(principal, "logs:AssociateKmsKey", arn, {}, why))
    return requests


def job_run_requests(names: Names) -> list[Request]:
    """What a job run needs besides its data: the rejection record read at the start
    (``run_final``), the written-keys check's read of the run's table, the logs of Glue 5.0
    (plain and, with the security configuration, encrypted) and Glue's metrics."""
    warehouse = _S3("job", names, names.warehouse)
    layout = naming.layout(names.warehouse)
    table = _relative(layout, layout.table_location(RUN_ID))
    requests = list(warehouse.read_file(_relative(layout, layout.rejection_location)))
    requests += warehouse.listing(table, "written keys: the run's table files in")
    requests += warehouse.read_file(f"{table}/part-00000.snappy.parquet")
    encrypted = f"/aws-glue/jobs-{names.job_role}-{names.security_configuration}"
    groups = [
        f"{base}/{kind}" for base in ("/aws-glue/jobs", encrypted) for kind in ("output", "error")
    ]
    requests += _logs("job", names, groups)
    requests.append(
        Request(
            "job",
            "cloudwatch:PutMetricData",
            "*",
            {"cloudwatch:namespace": GLUE_METRICS_NAMESPACE},
            "glue-metrics: the job's metrics",
        )
    )
    return requests + _kms("job", names, job_requests(names) + requests)


def rejected_run_requests(names: Names) -> list[Request]:
    """A run the gate rejects after writing (the written keys broke a rule): its table folder
    deleted, the last-run summary and the rejection record written."""
    warehouse = _S3("job", names, names.warehouse)
    layout = naming.layout(names.warehouse)
    requests = list(warehouse.delete_tree(_relative(layout, layout.table_location(RUN_ID))))
    for record in (layout.summary_location, layout.rejection_location):
        requests += warehouse.create(_relative(layout, record))
    return requests + _kms("job", names, requests)


def crawler_requests(names: Names) -> list[Request]:
    """The crawler reads the table's current location: a published run (or, before the first
    publish, the empty ``_unpublished`` folder)."""
    warehouse = _S3("crawler", names, names.warehouse)
    layout = naming.layout(names.warehouse)
    requests: list[Request] = []
    for location in (layout.table_location(RUN_ID), layout.unpublished_location):
        key = _relative(layout, location)
        requests += warehouse.listing(key, "crawler: list the table location")
        requests.append(warehouse.get(f"{key}/part-00000.snappy.parquet", "crawler: read"))
    table = naming.glue_table_arns(
        names.partition, names.region, names.account, names.database, TABLE_NAME
    )
    for action in ("glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"):
        arns = table[:2] if action == "glue:GetDatabase" else table
        requests += [Request("crawler", action, arn, {}, f"crawler: {action}") for arn in arns]
    encrypted = f"/aws-glue/crawlers-role/{names.crawler_role}-{names.security_configuration}"
    requests += _logs("crawler", names, ["/aws-glue/crawlers", encrypted])
    return requests + _kms("crawler", names, requests)


def forbidden_requests(names: Names) -> list[Request]:
    """Requests outside what each role is for: each must be refused."""
    job_staging = _S3("job", names, names.staging)
    job_assets = _S3("job", names, names.assets)
    crawler = _S3("crawler", names, names.warehouse)
    layout = naming.layout(names.warehouse)
    table = _relative(layout, layout.table_location(RUN_ID))
    quarantine = _relative(layout, layout.quarantine_location(RUN_ID))
    other_table = naming.glue_table_arns(
        names.partition, names.region, names.account, names.database, "other_table"
    )[2]
    return [
        job_staging.put(f"{STAGING_PREFIX}x.csv", "the job never writes staging"),
        job_staging.delete(f"{STAGING_PREFIX}x.csv", "the job never deletes input"),
        job_staging.get("other/x.csv", "the job reads only the staging folder"),
        job_assets.put(naming.ASSETS_SCRIPTS_PREFIX + naming.JOB_SCRIPT_NAME, "own code"),
        Request("job", "glue:UpdateTable", other_table, {}, "only its own table"),
        Request("job", "glue:DeleteTable", other_table, {}, "never deletes tables"),
        crawler.put(f"{table}/x.parquet", "the crawler never writes data"),
        crawler.delete(f"{table}/part-00000.snappy.parquet", "the crawler never deletes"),
        crawler.get(f"{quarantine}/part-00000.json", "the crawler reads only the table"),
        next(iter(crawler.listing(quarantine, "the crawler lists only the table"))),
    ]
