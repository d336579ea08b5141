"""Sphinx extension: pages generated from the code at build time, so they cannot drift from it.

- ``reference/cli.rst``: every ``multisurv`` sub-command, walked from :func:`multisurv.cli.build_parser`.
- ``reference/config.rst``: every key of the study config (``study_config.v1``): its type and default from the
  config dataclasses, its meaning from the comments of ``data_schemas/study_config.v1.yaml``.
- ``reference/api/*.rst``: one page per public module (``automodule`` of the names it defines).
- ``reference/evidence.md``: the R / PyRadiomics agreement tables (``tests/reference/README.md``) and the leakage
  tests (found by name in ``tests/``, described by their docstrings).

A key, command or module added to the code appears in the next build; a config key without a meaning, or a key
the commented YAML has but the code does not, is a build warning (an error under ``-W``).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import os
import pkgutil
import re
import sys
import typing
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = "reference"


# ----------------------------------------------------------------------------------------------------- helpers
def _write(path: Path, text: str) -> None:
    """Write only when the content changed, so an incremental build does not re-read every page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _literal(text: object) -> str:
    """Inline literal of one line of text (``\\`` when empty)."""
    value = " ".join(str(text).split()).replace("``", "` `")
    return f"``{value}``" if value else "\\"


def _rst_cell(text: object) -> str:
    """One line of text safe inside an rst list-table cell."""
    value = " ".join(str(text).split())
    if not value:
        return "\\"
    if value.startswith("``") or value.startswith(":"):
        return value  # already reStructuredText (a literal or a role)
    value = value.replace("\\", "\\\\").replace("*", r"\*").replace("|", r"\|").replace("`", r"\`")
    return re.sub(r"(\w)(_+)(?!\w)", lambda m: m.group(1) + "\\_" * len(m.group(2)), value)  # word_ is a link


# ------------------------------------------------------------------------------------------------ CLI reference
def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:  # argparse has no public accessor; sphinx-argparse reads the same attribute
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, sub, helps.get(name)


def _argument_rows(parser: argparse.ArgumentParser) -> list[tuple[str, str, str]]:
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            name = ", ".join(action.option_strings)
            if action.nargs != 0:
                name += " " + formatter._format_args(action, action.dest.upper())
        else:
            name = formatter._format_args(action, action.dest)
        help_text = formatter._expand_help(action) if action.help else ""
        if action.choices and not isinstance(action.choices, dict):
            help_text += " Choices: " + ", ".join(str(c) for c in action.choices) + "."
        if action.required and action.option_strings:
            default = "required"
        elif not action.option_strings and action.nargs not in ("?", "*"):
            default = "required"
        elif action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
            default = ""
        else:
            default = _literal(action.default)
        rows.append((_literal(name), help_text, default))
    return rows


def _command_section(prog: str, parser: argparse.ArgumentParser, help_text: str | None, level: int) -> list[str]:
    chars = "=-~^\"'"
    lines = [_title(f"``{prog}``", chars[min(level, len(chars) - 1)])]
    if help_text:
        lines.append(help_text + "\n")
    if parser.description and parser.description != help_text:
        lines.append(parser.description + "\n")
    usage = parser.format_usage().strip()
    usage = re.sub(r"^usage:\s*", "", usage)
    lines.append(".. code-block:: text\n\n" + "\n".join("   " + u for u in usage.splitlines()) + "\n")
    rows = _argument_rows(parser)
    if rows:
        lines.append(".. list-table::\n   :header-rows: 1\n   :widths: 30 55 15\n\n"
                     "   * - argument\n     - meaning\n     - default")
        for name, meaning, default in rows:
            lines.append(f"   * - {name}\n     - {_rst_cell(meaning)}\n     - {default}")
        lines.append("")
    for name, sub, sub_help in _subparsers(parser):
        lines.extend(_command_section(f"{prog} {name}", sub, sub_help, level + 1))
    return lines


def cli_reference() -> str:
    """The CLI reference page (reStructuredText), walked from ``multisurv.cli.build_parser()``."""
    from multisurv.cli import build_parser

    parser = build_parser()
    head = [
        ".. This page is generated by docs/_ext/msdocs.py from multisurv.cli.build_parser(); do not edit.\n",
        _title("Command-line reference"),
        "Every ``multisurv`` sub-command with its arguments, generated at build time from the argument parsers "
        "themselves (``multisurv.cli.build_parser()``), so this page always matches ``multisurv --help``. "
        "Each command is a thin wrapper around the library function named in its description; errors in your "
        "data exit with status 2 and one message per problem.\n",
    ]
    commands = []
    for name, sub, sub_help in _subparsers(parser):
        commands.extend(_command_section(f"multisurv {name}", sub, sub_help, 1))
    top = _command_section("multisurv", _without_subcommands(parser), parser.description, 1)
    return "\n".join(head + top + commands)


def _without_subcommands(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """A copy of the top-level parser's options only (its sub-commands get their own sections)."""
    top = argparse.ArgumentParser(prog=parser.prog, description=None, add_help=True)
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        top._add_action(action)
    top.usage = parser.format_usage().replace("usage: ", "", 1).strip()
    return top


# --------------------------------------------------------------------------------------------- config reference
_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<dash>- )?(?P<key>[A-Za-z_][\w]*):(?P<rest>.*)$")
_COMMENTED_KEY = re.compile(r"^(?P<indent>\s*)#\s?(?P<key>[a-z_][\w]*):\s+(?P<rest>\S.*)$")


def _split_comment(rest: str) -> tuple[str, str, int]:
    """Value text, trailing comment and the comment's column offset within ``rest`` (-1: none)."""
    in_quote = None
    for i, ch in enumerate(rest):
        if ch in "'\"" and in_quote in (None, ch):
            in_quote = None if in_quote == ch else ch
        elif ch == "#" and in_quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), rest[i + 1:].strip(), i
    return rest.strip(), "", -1


def yaml_key_comments(text: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """Parse a commented YAML example: (header comment, key path -> meaning, key path -> example value).

    The meaning of a key is the comment block right above it (at its indentation) plus its trailing comment and
    the comment-only lines aligned under that trailing comment. Commented-out keys (``# key: value  # meaning``)
    count too. List items (``- key: value``) give the list's key paths without an index.
    """
    lines = text.splitlines()
    header: list[str] = []
    i = 0
    while i < len(lines) and lines[i].lstrip().startswith("#"):
        header.append(lines[i].lstrip()[1:].strip())
        i += 1
    meanings: dict[str, str] = {}
    examples: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent of the key, key)
    pending: list[str] = []            # comment block waiting for the next key
    last_key: tuple[str, int] | None = None  # (path, column of its trailing comment) for continuation lines
    for line in lines[i:]:
        stripped = line.strip()
        if not stripped:
            pending, last_key = [], None
            continue
        column = len(line) - len(line.lstrip())
        if stripped.startswith("#") and last_key is not None and column >= last_key[1] - 1:
            # aligned under the previous key's trailing comment: its continuation, even if it reads "word: ..."
            meanings[last_key[0]] = (meanings[last_key[0]] + " " + stripped[1:].strip()).strip()
            continue
        commented = _COMMENTED_KEY.match(line)
        if stripped.startswith("#") and not commented:
            pending.append(stripped[1:].strip())
            last_key = None
            continue
        match = commented or _KEY_LINE.match(line)
        if match is None:
            pending, last_key = [], None
            continue
        indent = len(match.group("indent")) + (2 if (not commented and match.group("dash")) else 0)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = match.group("key")
        path = ".".join([k for _, k in stack] + [key])
        value, comment, offset = _split_comment(match.group("rest"))
        meaning = " ".join([*pending, comment]).strip()
        meanings.setdefault(path, "")
        if meaning and not meanings[path]:
            meanings[path] = meaning
        if value and path not in examples:
            examples[path] = value
        pending = []
        if offset >= 0:
            last_key = (path, len(line) - len(match.group("rest")) + offset)
        else:
            last_key = None
        if not commented and not value:
            stack.append((indent, key))
    return "\n".join(header), meanings, examples


def _study_config_class():
    for module in ("multisurv.study.config", "multisurv.config"):
        try:
            return importlib.import_module(module).StudyConfig
        except (ImportError, AttributeError):
            continue
    raise ImportError("StudyConfig not found in multisurv.study.config or multisurv.config.")


def _dataclasses_in(hint) -> list[type]:
    """Dataclass types inside a resolved type hint (``X | None``, ``tuple[X, ...]``, ``list[X]``, ...)."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return [hint]
    found = []
    for arg in typing.get_args(hint):
        found.extend(_dataclasses_in(arg))
    return found


def _is_sequence(hint) -> bool:
    return typing.get_origin(hint) in (list, tuple, typing.Sequence) or any(
        _is_sequence(a) for a in typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, type(int | str)))


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, typing.Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _yaml_value(value) -> str:
    import yaml

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return "(section)"
    if isinstance(value, (list, tuple)) and value and all(dataclasses.is_dataclass(v) for v in value):
        names = [str(getattr(v, "name", "")) for v in value]
        return "[" + ", ".join(names) + "]" if all(names) else f"({len(value)} entries)"
    text = yaml.safe_dump(_plain(value), default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return _yaml_value(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _yaml_value(f.default_factory())
    return "required"


def _attribute_docs(cls: type) -> dict[str, str]:
    """Meanings from the numpydoc ``Attributes`` section of a dataclass's docstring."""
    from numpydoc.docscrape import NumpyDocString

    try:
        doc = NumpyDocString(inspect.getdoc(cls) or "")
    except Exception:  # a malformed docstring only loses this fallback; numpydoc reports it on the API page
        return {}
    return {p.name: " ".join(" ".join(p.desc).split()) for p in doc["Attributes"]}


def _config_rows(cls: type, prefix: str, meanings: dict[str, str], rows: list) -> None:
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    attributes = _attribute_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name == "source" and prefix == "":
            continue  # set by from_yaml (the file's path), not a key of the file
        path = f"{prefix}{f.name}"
        nested = _dataclasses_in(hints[f.name])
        meaning = (meanings.get(path) or _wildcard_meaning(path, meanings) or attributes.get(f.name, "")
                   or _docstring_sentence(cls, f.name))
        rows.append((path, str(f.type), _default(f), meaning, bool(nested), cls))
        for sub in nested:
            _config_rows(sub, f"{path}.<name>." if _is_sequence(hints[f.name]) else f"{path}.", meanings, rows)


def _prose(doc: str) -> str:
    """A docstring up to its first numpydoc section (``Parameters``, ``Examples``...): the part a page quotes."""
    lines = doc.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            return "\n".join(lines[:i]).rstrip()
    return doc


def _docstring_sentence(cls: type, name: str) -> str:
    """The paragraph of the class docstring that starts by naming ``name`` (```name``: ...``), if any."""
    for paragraph in (inspect.getdoc(cls) or "").split("\n\n"):
        if f"``{name}``" in paragraph.split(":", 1)[0]:
            return " ".join(paragraph.split())
    return ""


def _wildcard_meaning(path: str, meanings: dict[str, str]) -> str:
    """Meaning of ``a.<name>.b`` from any commented ``a.X.b`` of the YAML (entries keyed by their name)."""
    if "<name>" not in path:
        return ""
    pattern = re.compile("^" + re.escape(path).replace(re.escape("<name>"), r"[^.]+") + "$")
    return next((m for k, m in meanings.items() if m and pattern.match(k)), "")


def _modality_kinds() -> str:
    """A table of the registered modality kinds (multisurv.registry), when the registry exists."""
    try:
        registry = importlib.import_module("multisurv.registry")
        kinds = registry.MODALITY_KINDS
    except (ImportError, AttributeError):
        return ""
    out = [_title("Modality kinds", "-"),
           "Generated from ``multisurv.registry.MODALITY_KINDS``: the kinds a modality of ``modalities`` can have, "
           "the manifest columns (roles) it reads and the settings it accepts. In the config file a modality is "
           "written ``<name>: {kind: <kind>, <role>: <manifest column>, <setting>: <value>}``, optionally with "
           "``prefix``, ``score`` and ``label`` (the rows ``modalities.<name>.*`` above: ``columns`` holds the "
           "roles and ``options`` the settings).\n",
           ".. list-table::\n   :header-rows: 1\n\n   * - kind\n     - manifest roles -> column checked as\n"
           "     - settings\n     - extracted by"]
    for name, kind in kinds.items():
        roles = ", ".join(f"``{r}`` -> ``{c}``" for r, c in dict(getattr(kind, "roles", {})).items()) or "none"
        options = ", ".join(f"``{o}``" for o in getattr(kind, "options", ())) or "none"
        extractor = getattr(kind, "extractor", None)
        out.append(f"   * - ``{name}``\n     - {roles}\n     - {options}\n"
                   f"     - {('``' + extractor + '``') if extractor else 'encoded inside every model'}")
    return "\n".join(out) + "\n"


def config_reference() -> str:
    """The study-config reference page (reStructuredText)."""
    study = _study_config_class()
    yaml_path = ROOT / "data_schemas" / "study_config.v1.yaml"
    header, meanings, _examples = yaml_key_comments(yaml_path.read_text(encoding="utf-8"))
    rows: list = []
    _config_rows(study, "", meanings, rows)
    code_keys = {r[0] for r in rows}
    wildcard = [r[0].split(".<name>.")[0] for r in rows if ".<name>." in r[0]]
    for key in sorted(set(meanings) - code_keys):
        if key != "schema" and not any(key.startswith(w + ".") for w in wildcard):
            logger.warning("config reference: key %r is in data_schemas/study_config.v1.yaml but not in %s.%s; "
                           "remove it from the YAML or add it to the config dataclasses.", key,
                           study.__module__, study.__name__)
    out = [
        ".. This page is generated by docs/_ext/msdocs.py from the StudyConfig dataclasses and the comments of\n"
        "   data_schemas/study_config.v1.yaml; do not edit.\n",
        _title("Study config reference"),
        "A study config (format ``study_config.v1``) describes a whole study for ``multisurv run CONFIG.yaml``. "
        "This page is generated at build time: the keys, types and defaults from the config dataclasses "
        f"(``{study.__module__}``), the meanings from the comments of the commented reference file "
        "``data_schemas/study_config.v1.yaml`` (itself a valid config; copy it to start). ``null`` is YAML's "
        "*none*; paths are relative to the folder that holds the config.\n",
        ".. code-block:: text\n\n" + "\n".join("   " + h for h in header.splitlines()) + "\n",
    ]
    sections: dict[str, list] = {"(top level)": []}
    for row in rows:
        top = row[0].split(".")[0]
        section = "(top level)" if ("." not in row[0] and not row[4]) else top
        sections.setdefault(section, []).append(row)
    for section, section_rows in sections.items():
        title = "Top-level keys" if section == "(top level)" else f"``{section}``"
        out.append(_title(title, "-"))
        heads = [r for r in section_rows if r[4] and r[0] == section]
        if heads:
            doc = _prose(inspect.getdoc(_dataclasses_in(typing.get_type_hints(
                study, vars(sys.modules[study.__module__]))[section])[0]) or "")
            if doc and not doc.startswith(_dataclasses_in(typing.get_type_hints(
                    study, vars(sys.modules[study.__module__]))[section])[0].__name__ + "("):
                out.append(doc.replace("\n\n", "\n\n") + "\n")
            if heads[0][3]:
                out.append(heads[0][3] + "\n")
        out.append(".. list-table::\n   :header-rows: 1\n   :widths: 22 16 14 48\n\n"
                   "   * - key\n     - type\n     - default\n     - meaning")
        for key, kind, default, meaning, nested, owner in section_rows:
            if nested and key == section:
                continue
            if not meaning:
                logger.warning("config reference: key %r (%s.%s) has no comment in "
                               "data_schemas/study_config.v1.yaml; add one that says what it means.",
                               key, owner.__module__, owner.__name__)
            out.append(f"   * - {_literal(key)}\n     - {_literal(kind)}\n     - {_literal(default)}\n"
                       f"     - {_rst_cell(meaning)}")
        out.append("")
    out.append(_modality_kinds())
    text = "\n".join(out)
    yaml_text = yaml_path.read_text(encoding="utf-8")
    literal = "\n".join("   " + line if line.strip() else "" for line in yaml_text.splitlines())
    return text + "\n" + _title("The commented reference file", "-") + (
        "\n.. code-block:: yaml\n   :caption: data_schemas/study_config.v1.yaml\n\n" + literal + "\n")


# ------------------------------------------------------------------------------------------------ API reference
def public_modules() -> list[str]:
    """Every importable public module of multisurv (no part of its dotted name starts with ``_``)."""
    import multisurv

    names = ["multisurv"]
    for info in pkgutil.walk_packages(multisurv.__path__, "multisurv."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _own_members(module) -> list[str]:
    """The public names a module defines (its ``__all__`` when it has one), not those it imports."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    own = []
    for name in names:
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        defined_in = getattr(obj, "__module__", None)
        if inspect.isclass(obj) or inspect.isfunction(obj) or (callable(obj) and defined_in is not None):
            if defined_in == module.__name__:  # decorated functions (functools.cache) are callables too
                own.append(name)
        elif hasattr(module, "__all__") and name in module.__all__ and not callable(obj):
            own.append(name)  # constants the module exports (registries, schema names)
    return own


def _group(name: str) -> str:
    """The API page a module is documented on: its subpackage (``multisurv.features.wsi`` has its own)."""
    parts = name.split(".")
    if name.startswith("multisurv.features.wsi"):
        return "multisurv.features.wsi"
    return ".".join(parts[:2]) if len(parts) > 2 or _is_package(name) else "multisurv"


def _is_package(name: str) -> bool:
    return hasattr(importlib.import_module(name), "__path__")


def _summary(obj) -> str:
    """First line of an object's own docstring (constants: none; their entry says what they are)."""
    if not (inspect.isclass(obj) or callable(obj)):
        return ""
    doc = inspect.getdoc(obj) or ""
    return escape_line(" ".join(doc.split("\n\n")[0].split())) if doc else ""


def _module_section(name: str) -> str:
    module = importlib.import_module(name)
    members = _own_members(module)
    lines = [_title(f"``{name}``", "-"), f".. automodule:: {name}\n   :no-members:\n"]
    if members:
        lines.append(".. list-table::\n   :widths: 30 70\n")
        for m in members:
            summary = _summary(getattr(module, m)) or "\\"
            lines.append(f"   * - :py:obj:`{m} <{name}.{m}>`\n     - {summary}")
        lines.append("")
    for m in members:
        obj = getattr(module, m)
        if inspect.isclass(obj):
            lines.append(f".. autoclass:: {name}.{m}\n   :members:\n   :undoc-members:\n")
        elif callable(obj):
            lines.append(f".. autofunction:: {name}.{m}\n")
        else:
            lines.append(f".. autodata:: {name}.{m}\n   :no-value:\n")
    return "\n".join(lines)


def api_pages(out: Path, *, pages: bool = True) -> None:
    """One page per subpackage (fewer, longer pages keep the build fast), and an index (``pages=False``: the
    index's table of top-level names only, for the fast subset build)."""
    groups: dict[str, list[str]] = {}
    if not pages:
        for stale in out.glob("multisurv*.rst"):
            stale.unlink()
    for name in public_modules() if pages else []:
        if name == "multisurv":
            continue
        groups.setdefault(_group(name), []).append(name)
    for group, names in groups.items():
        sections = [_module_section(n) for n in names]
        if not any(".. auto" in s.split("automodule", 1)[-1] for s in sections) and not names:
            continue
        title = "Top-level modules" if group == "multisurv" else f"``{group}``"
        intro = "" if group == "multisurv" else f".. automodule:: {group}\n   :no-members:\n   :no-index:\n"
        _write(out / f"{group}.rst", "\n".join(
            [".. This page is generated by docs/_ext/msdocs.py; do not edit.\n", _title(title), intro, *sections]))
    import multisurv

    index = [".. This page is generated by docs/_ext/msdocs.py; do not edit.\n", _title("API reference"),
             "Generated from the docstrings (numpydoc), one page per subpackage. The names most studies need are "
             "importable from the package itself; they load lazily, so ``import multisurv`` never imports torch, "
             "OpenSlide or PyRadiomics.\n", _title("Top-level names", "-"),
             ".. list-table::\n   :header-rows: 1\n\n   * - ``multisurv.<name>``\n     - defined in"]
    for name, module in sorted(getattr(multisurv, "_PUBLIC", {}).items()):
        index.append(f"   * - :py:obj:`~{module}.{name}`\n     - ``{module}``")
    index.append("")
    private = [(n, m) for n, m in sorted(getattr(multisurv, "_PUBLIC", {}).items())
               if pages and any(part.startswith("_") for part in m.split("."))]
    if private:
        index.append(_title("Defined in private modules", "-"))
        for name, module in private:
            obj = getattr(importlib.import_module(module), name)
            index.append(f".. auto{'class' if inspect.isclass(obj) else 'function'}:: {module}.{name}\n")
    if groups:
        index.append(_title("Pages", "-"))
    index.append(".. toctree::\n   :maxdepth: 2\n\n" + "\n".join(f"   {g}" for g in sorted(groups)) + "\n")
    _write(out / "index.rst", "\n".join(index))


# ------------------------------------------------------------------------------- how multisurv is validated
def _leakage_tests() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                doc = ast.get_docstring(node) or ""
                text = f"{node.name} {doc}".lower()
                if any(w in text for w in ("leak", "poison")):
                    found.append((str(path.relative_to(ROOT)), node.name, " ".join(doc.split())))
    return found


def evidence_page() -> str:
    """The "how multisurv is validated" evidence page (MyST markdown)."""
    readme = (ROOT / "tests" / "reference" / "README.md").read_text(encoding="utf-8")
    body = readme.split("\n", 1)[1] if readme.startswith("# ") else readme
    body = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", body, flags=re.M)  # one level below the page
    body = re.sub(r"\]\((?!https?://)([^)]+)\)", r"] (`\1`)", body)  # repository links -> plain paths
    rows = ["| test | what it checks |", "| --- | --- |"]
    for path, name, doc in _leakage_tests():
        rows.append(f"| `{path}::{name}` | {doc.replace('|', '/') or '(no docstring)'} |")
    return "\n".join([
        "<!-- This page is generated by docs/_ext/msdocs.py from tests/reference/README.md and tests/; "
        "do not edit. -->",
        "# Evidence: reference values and leakage tests", "",
        "Generated at build time from `tests/reference/README.md` (the agreement tables: each multisurv function, "
        "the R or PyRadiomics call it is checked against, the tolerance and why) and from the test suite (every "
        "test whose name or docstring is about leakage or poisoned rows). See {doc}`../validated` for how to read "
        "them.", "",
        "(leakage-tests)=", "## Leakage tests", "",
        "Each test fits on training rows, then poisons the held-out rows (extreme values or NaN) and checks that "
        "nothing fitted moved: selection, scaling, imputation, cut-offs, fusion weights.", "",
        *rows, "",
        "## Agreement with R and other trusted implementations", "", body, *_pyradiomics_section()])


def _pyradiomics_section() -> list[str]:
    """The PyRadiomics-baseline test's module docstring (what is compared, with which tolerance), if present."""
    path = ROOT / "tests" / "features" / "test_radiomics_baseline.py"
    if not path.is_file():
        return []
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return ["", "(pyradiomics-baseline)=", "## Agreement with PyRadiomics' baseline", "",
            f"From `{path.relative_to(ROOT)}`:", "", re.sub(r":\w+:`~?([^`]+)`", r"`\1`", doc).replace("*", r"\*")]


# ---------------------------------------------------------------------------------------------------- hook
def generate(app) -> None:
    src = Path(app.srcdir) / OUT_DIR
    _write(src / "cli.rst", cli_reference())
    _write(src / "config.rst", config_reference())
    _write(src / "evidence.md", evidence_page())
    api_pages(src / "api", pages=app.config.msdocs_api_pages)


def resolve_reference(app, env, node, contnode):
    """Resolve ``multisurv.<name>`` (lazy top-level names) and unambiguous short names (``concordance``,
    ``FeatureStore.fingerprint``) that docstrings use, to the one object documented under that name."""
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    objects = domain.objects
    import multisurv

    public = getattr(multisurv, "_PUBLIC", {})
    if target.startswith("multisurv.") and target.count(".") == 1 and target.split(".")[1] in public:
        target = f"{public[target.split('.')[1]]}.{target.split('.')[1]}"
        if target in objects:
            entry = objects[target]
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, target)
    if target.startswith("multisurv.") and target in objects or not target:
        return None
    kinds = _ROLE_TYPES.get(node.get("reftype", ""), ())
    matches = [name for name in objects if (name == target or name.endswith("." + target))
               and (not kinds or objects[name].objtype in kinds)]
    if len(matches) > 1:  # prefer the object nearest the referring module and class
        context = ".".join(filter(None, [node.get("py:module"), node.get("py:class")]))
        depth = {m: len(os.path.commonprefix([m, context])) for m in matches}
        best = max(depth.values())
        matches = [m for m in matches if depth[m] == best]
    if len(matches) == 1:
        entry = objects[matches[0]]
        return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, matches[0])
    return None


_ROLE_TYPES = {"func": ("function", "method", "classmethod", "staticmethod"), "meth": ("method", "classmethod",
               "staticmethod", "property"), "class": ("class", "exception"), "exc": ("exception", "class"),
               "mod": ("module",), "data": ("data", "attribute"), "attr": ("attribute", "property", "data")}

_LITERAL_OR_ROLE = re.compile(r"(``.+?``|:[\w:+-]+:`[^`]+`|`[^`]+`_{0,2})")


def escape_docstring(app, what, name, obj, options, lines):
    """Escape plain-text names that reStructuredText would read as links or substitutions.

    The house style writes fitted attributes (``coef_``, ``n_features_in_``) and feature prefixes (``ct__``) in
    running text; outside a literal, ``word_`` is a hyperlink reference, ``word__`` an anonymous one and
    ``|word|`` a substitution. Literals, roles and directive lines are left as they are.
    """
    literal_indent = None  # inside a doctest, literal (``::``) or code block: lines are shown as written
    doctest = False
    for i, line in enumerate(lines):
        stripped, indent = line.strip(), len(line) - len(line.lstrip())
        if doctest:
            if stripped:
                continue
            doctest = False
        if literal_indent is not None:
            if not stripped or indent > literal_indent:
                continue
            literal_indent = None
        if stripped.startswith(">>>"):
            doctest = True
            continue
        lines[i] = escape_line(line)
        if stripped.endswith("::") or stripped.startswith(".. code-block::") or stripped.startswith(".. code::"):
            literal_indent = indent


def escape_line(line: str) -> str:
    """One docstring line with plain-text ``word_``, ``word__`` and ``|word|`` escaped (see above)."""
    if line.lstrip().startswith(".."):
        return line  # a directive or a comment
    head = ""
    definition = re.match(r"^(\s*[*\w][\w, *]* : )(.*)$", line)
    if definition:  # numpydoc's "name : type" line: numpydoc sets the name in bold; escape the type only
        head, line = definition.groups()
    elif re.match(r"^\s*[*\w][\w, *]*$", line) and "_" in line and " " not in line.strip():
        return line  # "name" alone on its line (a parameter without a type)
    parts = _LITERAL_OR_ROLE.split(line)
    for j in range(0, len(parts), 2):  # even parts are plain text
        text = re.sub(r"(?<![\\\w])\|(\w[\w ]*)\|", r"\\|\1\\|", parts[j])
        parts[j] = re.sub(r"(\w)(_{1,2})(?![\w`])", lambda m: m.group(1) + "\\_" * len(m.group(2)), text)
    return head + "".join(parts)


def skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated metadata-routing methods (``set_fit_request``...) of every estimator."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.add_config_value("msdocs_api_pages", True, "env")
    app.connect("builder-inited", generate)
    app.connect("missing-reference", resolve_reference)
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-docstring", escape_docstring, priority=400)  # before numpydoc (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
