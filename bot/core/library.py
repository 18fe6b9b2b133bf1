"""Everything under ``FLOWS_DIR``, read and validated together: texts and flows.

Files with a reserved name hold texts (``messages.yaml``, ``erreurs.yaml``...); every other
``*.yaml`` file is a flow whose ``id`` matches its file name. Loading checks every file and
reports every error before refusing, so an admin fixes them in one go.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.core.consent_texts import ConsentTexts
from bot.core.flow_engine import Flow, FlowEngine
from bot.core.loading import (
    InvalidFile,
    LoadError,
    ValidationTexts,
    load,
    read_yaml,
    typeset_texts,
    validate,
)
from bot.core.messages import Messages
from bot.core.practice_rules import PracticeCatalog
from bot.core.register_rules import RegisterTexts
from bot.core.sendable import check_sendable

MESSAGES_FILE = "messages.yaml"
VALIDATION_FILE = "erreurs.yaml"
PRACTICES_FILE = "bonnes_pratiques.yaml"
CONSENT_FILE = "consentement.yaml"
REGISTER_FILE = "registre.yaml"
TEXT_FILES = {MESSAGES_FILE, VALIDATION_FILE, PRACTICES_FILE, REGISTER_FILE, CONSENT_FILE}

# Wording used only when erreurs.yaml itself cannot be read: it is the file that words errors.
FALLBACK_VALIDATION = ValidationTexts(
    with_line="{file}, line {line}{where}: {message}",
    without_line="{file}{where}: {message}",
    step='step "{step}"',
    field='"{field}"',
    item="item {index}",
    faults={},
)


@dataclass(frozen=True)
class FlowSource:
    """A validated flow with the exact text it came from (kept as a version)."""

    flow: Flow
    text: str


@dataclass(frozen=True)
class Library:
    messages: Messages
    validation: ValidationTexts
    practices: PracticeCatalog
    flows: dict[str, FlowSource]
    register: RegisterTexts
    consent: ConsentTexts

    def engine(self, flow: Flow) -> FlowEngine:
        return FlowEngine(flow, self.messages.flow)

    def parse_flow(self, text: str | bytes, file: str, *, check_practices: bool = True) -> Flow:
        """Validate a flow file's text; raise :class:`InvalidFile` with every fault."""
        return read_flow(text, file, self.validation, self.messages, self.flow_context(check_practices=check_practices))

    def flow_context(self, *, check_practices: bool = True) -> dict[str, Any] | None:
        """What validating a flow needs to know besides its text (the practices it may name)."""
        return {"practices": self.practices.ids()} if check_practices else None


def read_flow(
    text: str | bytes,
    file: str,
    validation: ValidationTexts,
    messages: Messages,
    context: dict[str, Any] | None,
) -> Flow:
    """A flow file's text validated, fields and the messages it makes (see ``core.sendable``)."""
    data = read_yaml(text, file, validation)
    typeset_texts(data)  # checked as sent: with the typography ``load`` gives every text
    flow = validate(Flow, data, file, validation, context)
    errors = check_sendable(flow, data, file, messages, validation)
    if errors:
        raise InvalidFile(errors, validation)
    return flow


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_validation_texts(directory: Path) -> ValidationTexts:
    try:
        return load(
            ValidationTexts, _read(directory / VALIDATION_FILE), VALIDATION_FILE, FALLBACK_VALIDATION, typeset=False
        )
    except (OSError, InvalidFile):
        return FALLBACK_VALIDATION


def load_library(directory: Path) -> Library:
    """Read and validate every file of a flows directory, or raise with all their errors."""
    validation = load_validation_texts(directory)
    errors: list[LoadError] = []

    def attempt(model: type[Any], path: Path, context: dict[str, Any] | None = None) -> Any:
        try:
            if model is Flow and messages is not None:  # its messages are checked too
                return read_flow(_read(path), path.name, validation, messages, context)
            return load(model, _read(path), path.name, validation, context, typeset=model is not ValidationTexts)
        except InvalidFile as invalid:
            errors.extend(invalid.errors)
        except OSError as error:
            errors.append(LoadError(path.name, None, "", str(error)))
        return None

    if validation is FALLBACK_VALIDATION:
        attempt(ValidationTexts, directory / VALIDATION_FILE)
    messages = attempt(Messages, directory / MESSAGES_FILE)
    practices = attempt(PracticeCatalog, directory / PRACTICES_FILE)
    register = attempt(RegisterTexts, directory / REGISTER_FILE)
    consent = attempt(ConsentTexts, directory / CONSENT_FILE)
    # Without a readable catalogue, rules cannot be checked: its own errors are reported.
    flow_context = {"practices": practices.ids()} if practices else None
    flows: dict[str, FlowSource] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in TEXT_FILES:
            continue
        flow = attempt(Flow, path, flow_context)
        if flow is None:
            continue
        if flow.id != path.stem:
            errors.append(
                LoadError(
                    path.name,
                    None,
                    '"id"',
                    validation.faults.get("id_not_file_name", "id").format(id=flow.id, file=path.stem),
                )
            )
            continue
        flows[flow.id] = FlowSource(flow, _read(path))
    if errors:
        raise InvalidFile(errors, validation)
    return Library(messages, validation, practices, flows, register, consent=consent)
