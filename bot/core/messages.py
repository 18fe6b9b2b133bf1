"""The model of ``conversations/messages.yaml``: every system text, command and button label.

Each field is a template whose allowed placeholders are declared here, so a file that misses
a text or misspells a placeholder is refused when loaded, never half-shown to a member.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from bot.core.statuses import RequestStatus
from bot.core.texts import Placeholders, Template

Label = Annotated[str, Field(min_length=1, max_length=64)]
Alert = Annotated[str, Field(min_length=1, max_length=200)]  # Telegram's limit for alerts


class _Texts(BaseModel):
    # Validators built by the first file validated, not when the classes are made: a start
    # whose library comes from its cache (bot/library_cache.py) validates none of them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class AnswerErrors(_Texts):
    """Re-ask texts, one per kind of step (a step may override them with ``error``)."""

    required: Template
    choice: Template
    yes_no: Template
    text_too_short: Annotated[str, Placeholders("min")]
    text_too_long: Annotated[str, Placeholders("max", "length")]
    number_invalid: Template
    number_too_small: Annotated[str, Placeholders("min")]
    number_too_large: Annotated[str, Placeholders("max")]
    date_invalid: Template
    date_in_past: Template


class DateTexts(_Texts):
    """How date steps read and show dates that are not a precise day."""

    # Answers of an optional date step that mean "no date": « je ne sais pas », « - »...
    unknown_words: Annotated[tuple[str, ...], Field(min_length=1)]
    unknown: str  # how a date left unknown shows
    month_year: Annotated[str, Placeholders("month", "year")]  # a month-precise date: « mars 2027 »
    # Words that stand for a month before a year: « rentrée 2027 » is September 2027.
    month_words: dict[str, Annotated[int, Field(ge=1, le=12)]] = {}
    invalid_optional: Template  # the re-ask of an optional date step
    month_in_past: Template


class FlowTexts(_Texts):
    """Texts the flow engine itself needs, shared by the bot and the terminal preview."""

    question: Annotated[str, Placeholders("number", "total", "question")]
    help_line: Annotated[str, Placeholders("help")]
    current_answer: Annotated[str, Placeholders("answer")]
    summary: Annotated[str, Placeholders("title", "lines")]
    summary_line: Annotated[str, Placeholders("label", "answer")]
    skipped: str
    ellipsis: str  # ends an answer shortened to fit a Telegram message
    yes: Label
    no: Label
    yes_words: tuple[str, ...]
    no_words: tuple[str, ...]
    skip_words: tuple[str, ...]
    months: Annotated[tuple[str, ...], Field(min_length=12, max_length=12)]
    use_buttons: Template
    cannot_go_back: Template
    stale_action: Template
    errors: AnswerErrors
    dates: DateTexts


class Commands(_Texts):
    """Descriptions registered with Telegram (setMyCommands), shown in the command menu."""

    partenariat: Label
    demandes: Label
    demande: Label
    bonnes_pratiques: Label
    partenaires: Label
    export: Label
    revision: Label
    flux: Label
    recharger: Label
    mes_donnees: Label
    oublier: Label
    retour: Label
    annuler: Label
    aide: Label
    partenaire_connu: Label
    calendrier: Label
    rattacher: Label
    sujet: Label


class IntakeTexts(_Texts):
    group_intro: Annotated[str, Placeholders("member", "title", "questions")]
    button_private: Label
    button_here: Label
    group_question: Annotated[str, Placeholders("member", "question")]
    group_reply_hint: Template
    private_intro: Annotated[str, Placeholders("title", "group")]
    not_a_member: Template
    resume: Template
    button_back: Label
    button_skip: Label
    button_date_unknown: Label  # under an optional date step: « je ne sais pas »
    button_confirm: Label
    button_edit: Label
    button_cancel: Label
    button_to_summary: Label
    edit_choose: Template
    cancelled: Template
    nothing_to_cancel: Template
    nothing_to_go_back: Template
    not_your_button: Alert
    stale_button: Alert
    text_expected: Template
    saved: Annotated[str, Placeholders("number")]
    saved_and_posted: Annotated[str, Placeholders("number", "group")]
    card: Annotated[str, Placeholders("number", "lines", "author", "title")]
    # Telegram could not be asked whether a deep link's member is in its group (issue 15, item 18).
    membership_unknown: Template


class RequestListTexts(_Texts):
    list_header: Annotated[str, Placeholders("page", "pages", "count")]
    list_line: Annotated[str, Placeholders("number", "partner", "kind", "status", "date")]
    empty: Template
    button_previous: Label
    button_next: Label
    detail: Annotated[str, Placeholders("number", "status", "lines", "author", "date", "title")]
    not_found: Annotated[str, Placeholders("number")]
    usage: Template
    statuses: dict[RequestStatus, Label]  # every status a request can have, worded


class FlowAdminTexts(_Texts):
    """Texts of /flux and /recharger, for the admins who change flows."""

    not_allowed: Template
    reload_not_allowed: Template
    usage: Template
    reloaded: Annotated[str, Placeholders("lines")]
    reload_line: Annotated[str, Placeholders("flow", "version")]
    reload_invalid: Annotated[str, Placeholders("errors")]
    invalid: Annotated[str, Placeholders("file", "errors")]
    error_line: Annotated[str, Placeholders("error")]
    more_errors: Annotated[str, Placeholders("count")]
    not_a_yaml: Template
    unknown_flow: Annotated[str, Placeholders("flow", "flows")]
    installed_group: Annotated[str, Placeholders("flow", "version")]
    installed_global: Annotated[str, Placeholders("flow", "version")]
    list_header: Annotated[str, Placeholders("chat")]
    list_line: Annotated[str, Placeholders("flow", "version", "origin", "author", "date")]
    upload_hint: Template
    origin_disk: Label
    origin_global: Label
    origin_group: Label
    author_server: Label
    global_scope: Label
    history_header: Annotated[str, Placeholders("flow")]
    history_line: Annotated[str, Placeholders("version", "origin", "author", "date", "active")]
    active_mark: str
    rolled_back: Annotated[str, Placeholders("flow", "version")]
    unknown_version: Annotated[str, Placeholders("flow", "version")]
    download_caption: Annotated[str, Placeholders("flow", "version")]
    # Limits on uploads (issue 15, item 7; docs/flux.md).
    too_many_uploads: Annotated[str, Placeholders("max")]
    too_many_versions: Annotated[str, Placeholders("max")]
    parse_too_slow: Annotated[str, Placeholders("file", "seconds")]


class PrivacyTexts(_Texts):
    """/mes_donnees and /oublier: what the bot keeps about a member, and erasing it."""

    private_only: Template
    header: Template
    nothing: Template
    requests: Annotated[str, Placeholders("count")]
    request_line: Annotated[str, Placeholders("group", "number", "partner", "date")]
    flows: Annotated[str, Placeholders("count")]
    circles: Annotated[str, Placeholders("groups")]
    coordinations: Annotated[str, Placeholders("groups")]
    positions: Annotated[str, Placeholders("count")]
    position_line: Annotated[str, Placeholders("group", "number", "position", "date", "reason")]
    reason: Annotated[str, Placeholders("reason")]
    more: Annotated[str, Placeholders("count")]
    private_chat: Label
    footer: Template
    confirm: Template
    button_yes: Label
    button_no: Label
    kept: Template
    done: Template
    anonymous_name: Label


class CliTexts(_Texts):
    """What ``python -m bot`` and its commands print for admins in a terminal."""

    check_ok: Annotated[str, Placeholders("files")]
    unknown_flow: Annotated[str, Placeholders("flow", "flows")]
    backup_done: Annotated[str, Placeholders("path", "size")]
    backup_failed: Annotated[str, Placeholders("path", "error")]
    backup_same_file: Annotated[str, Placeholders("path")]
    database_unavailable: Annotated[str, Placeholders("path", "error")]
    already_running: Annotated[str, Placeholders("path", "pid", "host", "since")]
    token_rejected: Template
    # Warnings of check: the files are valid, but something in them would never show.
    warning: Annotated[str, Placeholders("file", "where", "problem")]
    warning_step: Annotated[str, Placeholders("step")]
    warning_rule: Annotated[str, Placeholders("number", "practice")]
    warning_untriggered: Annotated[str, Placeholders("practice")]
    warning_unknown_value: Annotated[str, Placeholders("step", "value")]
    warning_wrong_kind: Annotated[str, Placeholders("step", "test")]


class SystemTexts(_Texts):
    help: Template
    start: Template
    error: Template
    missing_token: str
    unknown_command: Annotated[str, Placeholders("command")]  # a command no handler knows


class GroupTexts(_Texts):
    """A request started in private: which group it is for; attaching one filed without a group."""

    choose: Template
    no_group: Template
    known_choose: Template  # /partenaire_connu in private: the same choice, for the register
    known_no_group: Template
    try_again: Template
    try_again_alert: Alert
    not_a_member: Alert
    attach_private_only: Template
    attach_usage: Template
    attach_not_found: Annotated[str, Placeholders("number")]
    attach_choose: Annotated[str, Placeholders("number")]
    attached: Annotated[str, Placeholders("number", "new_number", "group")]
    private_list_hint: Template


class TopicTexts(_Texts):
    """Forum topics: /sujet, and the home topic lost."""

    not_a_forum: Template
    admins_only: Template
    home_set: Template
    home_reset: Template
    home_lost: Annotated[str, Placeholders("admins")]


class Messages(_Texts):
    """The whole ``messages.yaml``."""

    flow: FlowTexts
    commands: Commands
    intake: IntakeTexts
    requests: RequestListTexts
    flows: FlowAdminTexts
    privacy: PrivacyTexts
    cli: CliTexts
    system: SystemTexts
    groups: GroupTexts
    topics: TopicTexts
    schema_: str | None = Field(default=None, alias="$schema")
