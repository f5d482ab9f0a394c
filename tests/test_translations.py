"""The Russian catalogue: every user-facing string has a translation, and the compiled file the
service reads holds exactly what the catalogue says.

A string added to the code without `make messages` and a translation fails the last test here
(it extracts the strings as `make messages` does, where GNU gettext is installed)."""

import ast
import gettext
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES"


@dataclass
class Entry:
    """One entry of a .po file: its context, its English text(s), its translation(s), its flags."""

    line: int
    context: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstrs: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    def __str__(self) -> str:
        context = f"[{self.context}] " if self.context is not None else ""
        return f"line {self.line}: {context}{self.msgid!r}"


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file, its header (msgid "") first; obsolete (#~) ones left out."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int | None] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            entry, target = None, None
            continue
        if line.startswith("#,"):
            entry = entry or _started(entries, number)
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            entry = entry or _started(entries, number)
            continue
        if line.startswith('"'):
            _append(entry, target, ast.literal_eval(line))
            continue
        keyword, _space, value = line.partition(" ")
        entry = entry or _started(entries, number)
        if entry.msgstrs and keyword in {"msgctxt", "msgid"}:  # no blank line between entries
            entry = _started(entries, number)
        index = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        target = ("msgstr", int(index.group(1))) if index else (keyword, None)
        if target[0] == "msgstr":
            entry.msgstrs.append("")
        _append(entry, target, ast.literal_eval(value))
    return entries


def _started(entries: list[Entry], number: int) -> Entry:
    entries.append(Entry(line=number))
    return entries[-1]


def _append(entry: Entry | None, target: tuple[str, int | None] | None, text: str) -> None:
    assert entry is not None and target is not None, "a string outside any entry"
    name, _index = target
    if name == "msgstr":
        entry.msgstrs[-1] += text
    elif name == "msgctxt":
        entry.context = (entry.context or "") + text
    elif name == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + text
    else:
        entry.msgid += text


def plural_forms(header: Entry) -> int:
    return int(re.search(r"nplurals=(\d+)", header.msgstrs[0]).group(1))


def not_translated(path: Path) -> list[str]:
    """Entries that are fuzzy, have an empty translation or lack a plural form."""
    header, *entries = read_po(path)
    forms = plural_forms(header)
    return [
        f"{entry} {'is fuzzy' if 'fuzzy' in entry.flags else 'is not translated'}"
        for entry in entries
        if "fuzzy" in entry.flags
        or not all(entry.msgstrs)
        or len(entry.msgstrs) != (forms if entry.msgid_plural is not None else 1)
    ]


HOW_TO_FIX = "translate these in locale/ru/LC_MESSAGES/django.po, then `make messages`"


def test_every_entry_of_the_russian_catalogue_is_translated():
    missing = not_translated(CATALOGUE / "django.po")
    assert not missing, HOW_TO_FIX + ":\n" + "\n".join(missing)


def test_the_compiled_catalogue_holds_every_translation():
    """`make messages` compiled django.mo after the last edit of django.po."""
    with (CATALOGUE / "django.mo").open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    _header, *entries = read_po(CATALOGUE / "django.po")
    # One whole number per form the formula reaches (Russian's fourth form is for fractions).
    numbers = {}
    for n in range(200):
        numbers.setdefault(compiled.plural(n), n)

    stale = []
    for entry in entries:
        if entry.msgid_plural is None:
            expected = {None: entry.msgstrs[0]}
            found = {
                None: compiled.pgettext(entry.context, entry.msgid)
                if entry.context is not None
                else compiled.gettext(entry.msgid)
            }
        else:
            expected = {n: entry.msgstrs[form] for form, n in numbers.items()}
            found = {n: compiled.ngettext(entry.msgid, entry.msgid_plural, n) for n in expected}
        if found != expected:
            stale.append(str(entry))
    assert not stale, "django.mo is older than django.po: `make messages`:\n" + "\n".join(stale)


def test_every_string_in_the_code_is_in_the_russian_catalogue(tmp_path, settings, monkeypatch):
    """What `make messages` would extract now: a new or changed string missing from the
    catalogue arrives untranslated or fuzzy. Needs GNU gettext, which `make test` installs: a
    missing one fails the run, it never skips."""
    if not (shutil.which("xgettext") and shutil.which("msgmerge")):
        pytest.fail("GNU gettext not found: apt-get install gettext (make test does)")
    source = Path(settings.BASE_DIR)
    shutil.copytree(
        source,
        tmp_path / "project",
        ignore=shutil.ignore_patterns(
            ".*", "__pycache__", "node_modules", "var", "static", "staticfiles", "locale"
        ),
    )
    catalogue = tmp_path / "project" / "locale" / "ru" / "LC_MESSAGES"
    catalogue.mkdir(parents=True)
    shutil.copy(CATALOGUE / "django.po", catalogue / "django.po")
    monkeypatch.chdir(tmp_path / "project")
    settings.LOCALE_PATHS = [tmp_path / "project" / "locale"]

    call_command("makemessages", locale=["ru"], no_obsolete=True, verbosity=0)

    missing = not_translated(catalogue / "django.po")
    assert not missing, "`make messages`, then " + HOW_TO_FIX + ":\n" + "\n".join(missing)
