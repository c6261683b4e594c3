"""Contact import at scale: a generated CSV through the real import job, beside a raw COPY.

The file has phones, emails, a company, a job title and 3 custom fields (number, date, select),
with 5% of rows repeating an earlier person's phone (duplicates the import must match, not
create). Scale: small = 20,000 rows; full = 1,000,000 rows (the issue's goal: ≤ 60 s, ≤ 1.5 GB
peak RSS, ≥ 25% of raw COPY throughput, on PostgreSQL). After the import, identity lookups and
360° reads are timed on the loaded database.
"""

from __future__ import annotations

import csv
import itertools
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from guanxi.auth.permissions import DataScope, Role
from guanxi.auth.principal import Principal
from guanxi.contact import fields as custom_fields
from guanxi.contact.fields import FieldType
from guanxi.db import make_engine, make_sessionmaker, transaction
from guanxi.demo.generators import companies, consumers
from guanxi.importer import reader, service
from guanxi.importer.schemas import ImportIn
from guanxi.kit.clock import utcnow
from guanxi.kit.ids import new_id
from guanxi.migrate import upgrade
from guanxi.models import Base
from guanxi.worker import jobs
from guanxi.workspace import members

SCALES = {"small": 20_000, "full": 1_000_000}
HEADERS = ["姓名", "手机", "邮箱", "公司", "职位", "预算", "首次接触", "行业"]
INDUSTRIES = ["制造", "零售", "教育", "医疗", "金融"]


def generate(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    firms = [c.name for c in companies(seed, max(50, rows // 200))]
    people = consumers(seed, rows)
    phones: list[str] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        for i, person in enumerate(people):
            duplicate = phones and rng.random() < 0.05
            phone = rng.choice(phones) if duplicate else f"1{rng.choice('3456789')}{i:09d}"
            phones.append(phone)
            email = f"u{i}@{person.email.split('@')[1]}"
            writer.writerow(
                [
                    person.name,
                    phone,
                    email,
                    rng.choice(firms),
                    rng.choice(["CEO", "经理", "工程师", "采购"]),
                    rng.randrange(1000, 500000),
                    f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                    rng.choice(INDUSTRIES),
                ]
            )


def raw_copy(url: str, path: Path) -> float:
    """The same rows COPYed into a bare table with the same shape: the ceiling."""
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TABLE IF EXISTS bench_copy")
            conn.exec_driver_sql(
                "CREATE TABLE bench_copy (id bigint primary key, name text, phone text, email text, company text, title text, custom jsonb)"
            )
            raw = conn.connection.dbapi_connection
            assert raw is not None
            started = time.perf_counter()
            with (
                raw.cursor() as cur,
                cur.copy("COPY bench_copy FROM STDIN") as copy,  # type: ignore[attr-defined]
                path.open(encoding="utf-8") as fh,
            ):
                rows = csv.reader(fh)
                next(rows)
                for r in rows:
                    custom = f'{{"budget": {r[5]}, "first": "{r[6]}", "industry": "{r[7]}"}}'
                    copy.write_row((new_id(), r[0], r[1], r[2], r[3], r[4], custom))
            elapsed = time.perf_counter() - started
            conn.exec_driver_sql("DROP TABLE bench_copy")
        else:
            conn.exec_driver_sql("DROP TABLE IF EXISTS bench_copy")
            conn.exec_driver_sql(
                "CREATE TABLE bench_copy (id integer primary key, name text, phone text, email text, company text, title text, custom text)"
            )
            started = time.perf_counter()
            with path.open(encoding="utf-8") as fh:
                rows = csv.reader(fh)
                next(rows)
                while chunk := [(new_id(), *r[:5], r[5]) for r in itertools.islice(rows, 10_000)]:
                    conn.exec_driver_sql(
                        "INSERT INTO bench_copy VALUES (?, ?, ?, ?, ?, ?, ?)", chunk
                    )
            elapsed = time.perf_counter() - started
            conn.exec_driver_sql("DROP TABLE bench_copy")
    engine.dispose()
    return elapsed


def run(database_url: str, scale: str) -> dict[str, Any]:
    rows = SCALES[scale]
    upgrade(database_url)
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        generate(path, rows, 7)
        copy_s = raw_copy(database_url, path)
        stamp = time.time_ns()
        with transaction(factory) as s:
            user, workspace = members.create_owner(
                s,
                email=f"bench{stamp}@bench.local",
                name="Bench",
                password="bench-password",
                language="zh_CN",
            )
            actor = Principal(user.id, workspace.id, Role.admin, DataScope.all, None, "session")
            for key, label, kind, options in (
                ("budget", "预算", FieldType.number, []),
                ("first_touch", "首次接触", FieldType.date, []),
                ("industry", "行业", FieldType.select, INDUSTRIES),
            ):
                custom_fields.create_field(
                    s,
                    actor,
                    obj="contact",
                    key=key,
                    label=label,
                    kind=kind,
                    options=options,
                    required=False,
                )
            shape = reader.shape(path)
            mapping = {
                "姓名": "name",
                "手机": "phone",
                "邮箱": "email",
                "公司": "account.name",
                "职位": "title",
                "预算": "custom.budget",
                "首次接触": "custom.first_touch",
                "行业": "custom.industry",
            }
            payload = {
                "path": str(path),
                "shape": vars(shape),
                **ImportIn(file_id="1", mapping=mapping).model_dump(exclude={"file_id"}),
            }
            job = jobs.take(s, jobs.enqueue(s, workspace.id, "import", payload, user.id), utcnow())
            job_id, workspace_id = job.id, workspace.id
        context = jobs.JobContext(factory, workspace_id, job_id, payload, {})
        started = time.perf_counter()
        status = service.run(context, path)
        wall = time.perf_counter() - started
        counts = context.progress["counts"]
        lookup_ms, read_ms = _reads(factory, actor, path, min(rows, 200_000))
    engine.dispose()
    floor = server_floor(database_url, workspace_id) if engine.dialect.name == "postgresql" else {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "scale": {"rows": rows, "duplicates": "5%", "custom_fields": 3, "batch": service.BATCH},
        "metrics": {
            "status": status,
            "wall_s": round(wall, 2),
            "rows_per_s": round(rows / wall),
            "copy_rows_per_s": round(rows / copy_s),
            "vs_copy": round((rows / wall) / (rows / copy_s), 3),
            "peak_rss_mb": round(peak),
            "created": counts["created"],
            "updated": counts["updated"],
            "problems": counts["problems"],
            "accounts_created": counts["accounts_created"],
            "lookup_p95_ms": lookup_ms,
            "read360_p95_ms": read_ms,
            # a quarter of raw COPY's rate, as the whole import's time
            "quarter_of_copy_s": round(4 * copy_s, 1),
            **floor,
        },
    }


# The tables an import writes, in the order their keys need, with the order rows go in.
WRITTEN = {
    "account": "id",
    "contact": "id",
    "identity": "kind, namespace, value",
    "contact_account": "contact_id",
}
FOREIGN_KEYS = {
    "fk_identity_contact": "identity",
    "fk_contact_account_contact": "contact_account",
    "fk_contact_account_account": "contact_account",
    "fk_contact_workspace_id_workspace": "contact",
}
SECONDARY = (
    "ix_contact_ws_updated",
    "ix_contact_ws_name",
    "ix_identity_contact",
    "ix_contact_account_account",
)


def server_floor(url: str, workspace_id: int) -> dict[str, float]:
    """What the server alone needs to store the imported rows: they are copied aside, then
    inserted again into a new workspace with one ``INSERT … SELECT`` per table — no client, no
    parsing, no lookups — with the schema as it is, without the foreign keys, and with only the
    primary and unique keys (of the contact side: the few accounts keep theirs). Each variant
    runs in a transaction that is rolled back (PostgreSQL DDL is transactional), so the
    database keeps its schema — but holds its tables locked meanwhile: run the bench on a
    database of its own. Rows go in sorted by each table's most scattered key, over the whole
    table (the import sorts each batch): the floor is, if anything, optimistic."""
    engine = make_engine(url)
    out: dict[str, float] = {}
    with engine.connect() as conn:
        run = conn.exec_driver_sql
        for table in WRITTEN:
            run(
                f"CREATE TEMP TABLE aside_{table} AS "
                f"SELECT * FROM {table} WHERE workspace_id = {workspace_id}"
            )
        conn.commit()
        other = conn.exec_driver_sql("SELECT max(id) + 1 FROM workspace").scalar_one()
        for label, drop_keys, drop_indexes in (
            ("floor_full_s", False, False),
            ("floor_no_fk_s", True, False),
            ("floor_keys_only_s", True, True),
        ):
            run(
                "INSERT INTO workspace (id, name, default_language, timezone, created_at) "
                f"SELECT {other}, name, default_language, timezone, created_at FROM workspace "
                f"WHERE id = {workspace_id}"
            )
            for name, table in FOREIGN_KEYS.items() if drop_keys else ():
                run(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            for name in SECONDARY if drop_indexes else ():
                run(f"DROP INDEX {name}")
            took = 0.0
            for table, order in WRITTEN.items():
                names = [c.name for c in Base.metadata.tables[table].columns]
                chosen = [str(other) if n == "workspace_id" else n for n in names]
                started = time.perf_counter()
                run(
                    f"INSERT INTO {table} ({', '.join(names)}) "
                    f"SELECT {', '.join(chosen)} FROM aside_{table} ORDER BY {order}"
                )
                took += time.perf_counter() - started
            conn.rollback()
            out[label] = round(took, 1)
        conn.commit()
        # the rolled-back rows are dead tuples: clear them for whatever runs next
        conn.execution_options(isolation_level="AUTOCOMMIT")
        run(f"VACUUM ANALYZE {', '.join(WRITTEN)}")
    engine.dispose()
    return out


def _reads(factory: Any, actor: Principal, path: Path, within: int) -> tuple[float, float]:
    """p95 of a contact lookup by phone, and of the 360° read, over 500 random rows."""
    from guanxi.account import service as accounts
    from guanxi.contact import service as contacts
    from guanxi.identity import repository as identities
    from guanxi.identity import rules

    rng = random.Random(1)
    with path.open(encoding="utf-8") as fh:
        rows = csv.reader(fh)
        next(rows)
        phones = [r[1] for _, r in zip(range(within), rows, strict=False)]
    lookups, reads = [], []
    with transaction(factory) as s:
        for phone in rng.sample(phones, 500):
            started = time.perf_counter()
            key = rules.key("phone", phone)
            found = identities.find(s, actor.workspace_id, [key])
            lookups.append((time.perf_counter() - started) * 1000)
            contact_id = found[key].contact_id
            started = time.perf_counter()
            contact = contacts.get(s, actor, contact_id)
            identities.of_contacts(s, actor.workspace_id, [contact.id])
            accounts.accounts_of(s, actor, contact.id)
            contacts.consents(s, actor.workspace_id, contact.id)
            identities.merges_of(s, actor.workspace_id, contact.id)
            reads.append((time.perf_counter() - started) * 1000)
    q = lambda v: round(statistics.quantiles(v, n=100)[94], 2)  # noqa: E731
    return q(lookups), q(reads)
