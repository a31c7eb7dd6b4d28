"""Reading form fields (DIGITS' names, strings as submitted) into checked values.

Every reader records a message under the field's name in `errors` instead of raising, so a
form is checked whole and the user sees every problem at once.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

Errors = dict[str, list[str]]


class FormErrors(ValueError):
    """The one way a field's refusal travels: {field: [messages]}, every problem at once. The
    web answers it as a 400 naming the fields (digits.webapp.errors)."""

    def __init__(self, errors: Errors):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def field_error(name: str, message: str) -> FormErrors:
    """One field's refusal: raised where the input is read, answered as a 400 naming it."""
    return FormErrors({name: [message]})


def add_error(errors: Errors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def text_field(form: dict[str, Any], name: str, default: str = "") -> str:
    return str(form.get(name, "") or default).strip()


def _number(form, name: str) -> float | None:
    """The field as a number: None if blank, NaN if it is not one."""
    text = text_field(form, name)
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return math.nan


def _blank(default, errors: Errors, name: str):
    if default is None:
        add_error(errors, name, "required")
    return default


def int_field(form, name: str, default: int | None, errors: Errors, low: int, high: int):
    """A whole number in [low, high]; blank gives `default` (None: the field is required)."""
    number = _number(form, name)
    if number is None:
        return _blank(default, errors, name)
    if not (number.is_integer() and low <= number <= high):
        add_error(errors, name, f"a whole number from {low} to {high}")
        return default
    return int(number)


def optional_int_field(form, name: str, errors: Errors, low: int, high: int) -> int | None:
    """A whole number in [low, high], or None when blank (an optional setting)."""
    number = _number(form, name)
    if number is None:
        return None
    if not (number.is_integer() and low <= number <= high):
        add_error(errors, name, f"a whole number from {low} to {high}")
        return None
    return int(number)


def float_field(
    form,
    name: str,
    default: float | None,
    errors: Errors,
    low: float,
    high: float,
    low_inclusive: bool = True,
) -> float | None:
    """A number in [low, high] (or (low, high] when not low_inclusive)."""
    number = _number(form, name)
    if number is None:
        return _blank(default, errors, name)
    above_low = number >= low if low_inclusive else number > low
    if not (math.isfinite(number) and above_low and number <= high):
        bound = "from" if low_inclusive else "above"
        add_error(errors, name, f"a number {bound} {low:g} up to {high:g}")
        return default
    return number


def choice_field(form, name: str, choices: Collection[str], default: str, errors: Errors) -> str:
    value = text_field(form, name, default)
    if value not in choices:
        add_error(errors, name, f"one of {', '.join(choices)}")
        return default
    return value


def flag_field(form, name: str, default: bool = False) -> bool:
    value = form.get(name)
    if value is None:
        return default
    return str(value).strip().lower() in ("1", "true", "on", "yes", "y")


def is_whole_number(text: str) -> bool:
    """ASCII digits only: `"²".isdigit()` is true, and int() refuses it."""
    return bool(text) and text.isascii() and text.isdigit()


# Bounds on free text, so that one job cannot make every user's home page heavy.
MAX_NAME_LENGTH = 200
MAX_NOTES_LENGTH = 10_000


def name_field(form, name: str, errors: Errors, what: str) -> str:
    """A job's name: required, one line, at most MAX_NAME_LENGTH characters."""
    text = " ".join(text_field(form, name).split())
    if not text:
        add_error(errors, name, f"a {what} needs a name")
    elif len(text) > MAX_NAME_LENGTH:
        add_error(errors, name, f"at most {MAX_NAME_LENGTH} characters")
    return text


def notes_field(form, name: str, errors: Errors) -> str | None:
    """A job's notes (None: not sent), at most MAX_NOTES_LENGTH characters."""
    notes = form.get(name)
    if notes is not None and len(notes) > MAX_NOTES_LENGTH:
        add_error(errors, name, f"at most {MAX_NOTES_LENGTH} characters")
    return notes


GROUP_FIELD = "group_name"  # DIGITS' field: jobs filed together on the home page
MAX_GROUP_LENGTH = 100


def group_field(form, errors: Errors) -> str:
    """The job's group (blank: none), short enough to show in a list."""
    group = " ".join(text_field(form, GROUP_FIELD).split())
    if len(group) > MAX_GROUP_LENGTH:
        add_error(errors, GROUP_FIELD, f"at most {MAX_GROUP_LENGTH} characters")
        return ""
    return group


@dataclass(frozen=True)
class Field:
    """One form field's facts, declared once: the parser reads the form by it, the pages draw
    the field from it (title, default value, placeholder, choices), a search ranges over it."""

    name: str  # the form's (DIGITS') name, from the HTML form to the job's parameters
    kind: str  # "int", "float", "choice" or "flag"
    default: Any = None  # None: it may be left blank (a setting that is off)
    title: str = ""
    low: float = 0
    high: float = 1e6
    low_inclusive: bool = True
    choices: Mapping[str, str] | None = None
    placeholder: str = ""
    log_scale: bool = False  # a search's range of it is on a log scale unless told
    sweeps: bool = False  # a comma list of values makes one job each (a text box, then)

    def parse(self, form, errors: Errors) -> Any:
        if self.kind == "int":
            if self.default is None:
                return optional_int_field(form, self.name, errors, int(self.low), int(self.high))
            return int_field(form, self.name, self.default, errors, int(self.low), int(self.high))
        if self.kind == "float":
            if self.default is None and not text_field(form, self.name):
                return None
            return float_field(
                form, self.name, self.default, errors, self.low, self.high, self.low_inclusive
            )
        if self.kind == "choice":
            return choice_field(form, self.name, self.choices or {}, self.default, errors)
        return flag_field(form, self.name, bool(self.default))

    @property
    def shown_default(self) -> str:
        """The value the form shows before anyone types."""
        if self.default is None or self.kind == "flag":
            return ""
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)
