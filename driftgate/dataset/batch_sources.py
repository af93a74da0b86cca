"""Where the ``ingest-batches`` flow takes batches from: the spec's ``batches:`` section.

Three kinds, one per dataset::

    batches: {kind: api}                                    # the data API (default)
    batches: {kind: landing, path: s3://bucket/incoming/}   # each new CSV/Parquet file is a batch
    batches: {kind: sql, url: "sqlite:///shop.db", table: orders, watermark: updated_at}

Whatever the kind, a batch is stored once under the next number and the mapping from source
item (file content hash, watermark range) to batch number is recorded in the lake's ``state/``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ApiBatches(BaseModel):
    """Numbered batches from the data API at ``DRIFTGATE_DATA_API_URL`` (today's behaviour)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["api"] = "api"


class LandingBatches(BaseModel):
    """A folder or ``s3://`` prefix where files arrive; each new file becomes the next batch.

    Files are taken in arrival order (modification time, then name) and keyed by the sha256 of
    their bytes: a file uploaded again with the same content is not a new batch.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["landing"]
    path: str = Field(description="Local folder, file:// URL or s3://bucket/prefix watched for files.")
    suffixes: list[str] = Field(
        default_factory=lambda: [".csv", ".parquet", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".csv.zst"],
        description="File endings taken as batches (compressed CSVs are decompressed).",
    )


class SqlBatches(BaseModel):
    """Rows of a table or query past the last stored watermark, one batch per run."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sql"]
    url: str | None = Field(
        None, description="SQLAlchemy URL; DRIFTGATE_BATCHES_SQL_URL overrides it (keep passwords out of specs)."
    )
    table: str | None = Field(None, description="Table (optionally schema.table) to read.")
    query: str | None = Field(None, description="SELECT whose rows are read instead of a table.")
    watermark: str = Field(description="A column that only grows as rows are added (id, timestamp).")

    @model_validator(mode="after")
    def _one_of_table_or_query(self) -> SqlBatches:
        if (self.table is None) == (self.query is None):
            raise ValueError("batches of kind sql need exactly one of 'table' or 'query'")
        return self


BatchSource = Annotated[ApiBatches | LandingBatches | SqlBatches, Field(discriminator="kind")]
