"""The consent round's lifecycle, between the Telegram handlers and storage.

Opening, positions, closing, publishing, reminders, extensions and the recovery after a
restart span several updates and timers. They live here, with no python-telegram-bot import:
the handlers give this layer a :class:`~bot.rounds.ports.Sender` (send or edit a message) and
a :class:`~bot.rounds.ports.Scheduler` (run a job at a time, cancel it), so the invariants
(publish once, remind once, coalesced redraws, restart recovery) are unit-tested with fakes.
"""
