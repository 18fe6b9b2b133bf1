"""Each chat's updates one at a time, in the order they came; other chats' meanwhile
(``redelivery.ChatOrderedProcessor`` and the ledger's ``turn``)."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.handlers.redelivery import ChatOrderedProcessor, HandledQueue


def update(update_id: int, chat_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": "supergroup", "title": "GL"},
                "from": {"id": 7, "is_bot": False, "first_name": "Ana"},
                "text": "/aide",
            },
        },
        None,
    )


class Handling:
    """Handlers that say when they start and finish only when the test lets them."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release: dict[int, asyncio.Event] = {}

    async def handle(self, update_id: int) -> None:
        self.started.append(update_id)
        await self.release.setdefault(update_id, asyncio.Event()).wait()

    def finish(self, update_id: int) -> None:
        self.release.setdefault(update_id, asyncio.Event()).set()


async def queued(
    ledger: HandledQueue, processor: ChatOrderedProcessor, handling: Handling, updates: list[Update]
) -> dict[int, asyncio.Task[None]]:
    """The updates received (the ledger's ``put``), then handed to the processor at once."""
    for item in updates:
        await ledger.put(item)
    tasks = {
        item.update_id: asyncio.create_task(processor.process_update(item, handling.handle(item.update_id)))
        for item in updates
    }
    await asyncio.sleep(0.01)
    return tasks


async def test_a_chats_updates_wait_for_the_one_before_while_other_chats_go_on() -> None:
    ledger, handling = HandledQueue(acknowledge_each=False), Handling()
    processor = ChatOrderedProcessor(ledger, 8)
    tasks = await queued(ledger, processor, handling, [update(1, -1), update(2, -1), update(3, -2), update(4, -1)])
    assert handling.started == [1, 3]  # the other group does not wait

    handling.finish(3)
    handling.finish(4)  # its turn has not come: it does not start
    await asyncio.sleep(0.01)
    assert handling.started == [1, 3]

    handling.finish(1)
    await asyncio.sleep(0.01)
    assert handling.started == [1, 3, 2]
    handling.finish(2)
    await asyncio.wait_for(asyncio.gather(*tasks.values()), timeout=1)
    assert handling.started == [1, 3, 2, 4]
    assert ledger.confirmed_offset(5) == 5 and not ledger.busy


async def test_an_update_cancelled_before_its_turn_lets_no_later_one_pass_the_one_still_running() -> None:
    ledger, handling = HandledQueue(acknowledge_each=False), Handling()
    processor = ChatOrderedProcessor(ledger, 8)
    tasks = await queued(ledger, processor, handling, [update(1, -1), update(2, -1), update(3, -1)])
    tasks[2].cancel()  # the application stopping, say
    await asyncio.sleep(0.01)
    assert handling.started == [1]
    assert ledger.confirmed_offset(4) == 1  # the first is still in hand

    handling.finish(1)
    await asyncio.sleep(0.01)
    assert handling.started == [1, 3]
    handling.finish(3)
    await asyncio.wait_for(tasks[3], timeout=1)
    assert not ledger.busy
