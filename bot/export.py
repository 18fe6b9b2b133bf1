"""A chat's partner register as a CSV file: the one builder of /export and ``python -m bot export``.

One row per request; one column per answer, headed by its step label (every flow version the
chat's requests were made with contributes its steps), then origin (a request or a partner
known without a consent round), status, author and dates. The format itself (separator,
encoding, formula guard) is :func:`bot.core.register_rules.csv_document`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import tzinfo
from functools import partial

from bot.catalog import FlowCatalog
from bot.core.register_rules import (
    Origin,
    answer_cells,
    answer_columns,
    answer_header,
    csv_document,
    day_text,
    local_day,
)
from bot.core.statuses import RequestStatus
from bot.storage import register_rows
from bot.storage.db import Database


@dataclass(frozen=True)
class Export:
    content: bytes
    count: int


async def register_csv(database: Database, catalog: FlowCatalog, zone: tzinfo, chat_id: int) -> Export:
    """Every request of a chat, as the CSV document members download."""
    library = catalog.library
    texts, statuses = library.register, library.messages.requests.statuses
    columns = texts.export.columns

    def flows_and_last(connection: sqlite3.Connection) -> tuple[list[tuple[str, int]], int]:
        return register_rows.flow_versions(connection, chat_id), register_rows.last_number(connection, chat_id)

    # The file holds the requests there were when it was asked for: one filed meanwhile, maybe
    # with a flow version whose columns the header lacks, waits for the next export.
    versions, last = await database.read(flows_and_last)
    engines = {key: await catalog.engine(*key) for key in versions}
    steps = answer_columns(engine.flow for engine in engines.values())
    origins = texts.known.origins
    header = [
        columns.number,
        *(answer_header(step, columns) for step in steps),
        columns.origin,
        columns.status,
        columns.author,
        columns.created,
        columns.decided,
        columns.review,
        columns.last_review,
    ]
    rows: list[list[object]] = []
    after = 0
    while entries := await database.read(partial(register_rows.batch, chat_id=chat_id, after=after, until=last)):
        for entry in entries:
            last_review = None
            if entry.last_outcome is not None and entry.last_answered_at is not None:
                outcome = texts.follow_up.outcomes.get(entry.last_outcome, entry.last_outcome)
                answered = day_text(local_day(entry.last_answered_at, zone))
                # Plain text for the file: render() would escape it as Telegram HTML.
                last_review = texts.export.last_review.format(outcome=outcome, date=answered)
            rows.append(
                [
                    entry.number,
                    *answer_cells(engines[(entry.flow_id, entry.flow_version)], steps, entry.answers),
                    origins[Origin(entry.origin)],
                    statuses[RequestStatus(entry.status)],
                    entry.author_name,
                    day_text(local_day(entry.created_at, zone)),
                    day_text(local_day(entry.decided_at, zone)) if entry.decided_at else None,
                    day_text(entry.review_on),
                    last_review,
                ]
            )
        after = entries[-1].number
    return Export(csv_document(header, rows), len(rows))
