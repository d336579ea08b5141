"""List public names whose docstrings lack numpydoc sections (the work left before the API reference is complete).

Run: ``.venv/bin/python docs/_ext/docstring_gaps.py [CODES]`` with numpydoc validation codes (default
``GL08,PR01,RT01,EX01``: no docstring, parameters not documented, no Returns section, no Examples section).
It walks the same public modules as the API reference (``msdocs.public_modules``) and prints a count per code,
then every name per code. The docs build itself fails only on GL08 (``numpydoc_validation_checks`` in
``docs/conf.py``); this script measures the rest.
"""

from __future__ import annotations

import collections
import importlib
import inspect
import sys
import warnings
from pathlib import Path


#: Dataclasses whose fields stay under "Attributes" because msdocs reads the config reference from that section
#: (see the comment above the class): PR01 counts as met when every field is documented there.
ATTRIBUTES_AS_PARAMETERS = {"multisurv.registry.Modality"}


def _fields_in_attributes(name: str) -> bool:
    """True when every parameter of the class ``name`` is documented in its ``Attributes`` section."""
    from numpydoc.docscrape import NumpyDocString

    module_name, _, cls_name = name.rpartition(".")
    cls = getattr(importlib.import_module(module_name), cls_name)
    documented = {n.strip() for p in NumpyDocString(inspect.getdoc(cls) or "")["Attributes"]
                  for n in p.name.split(",")}
    parameters = [p for p in inspect.signature(cls).parameters if p != "self"]
    return set(parameters) <= documented


def public_names() -> list[str]:
    """Dotted names of every public class, function and public method of the API reference's modules."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import msdocs

    names = []
    for module_name in msdocs.public_modules():
        module = importlib.import_module(module_name)
        for name in msdocs._own_members(module):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            names.append(f"{module_name}.{name}")
            if inspect.isclass(obj):
                names.extend(f"{module_name}.{name}.{attr}" for attr, value in vars(obj).items()
                             if not attr.startswith("_") and (inspect.isfunction(value) or isinstance(
                                 value, (classmethod, staticmethod, property))))
    return names


def main(argv: list[str] | None = None) -> int:
    """Print the gaps; returns 0 (a report, not a check)."""
    from numpydoc.validate import validate

    codes = (argv or sys.argv[1:] or ["GL08,PR01,RT01,EX01"])[0].split(",")
    warnings.simplefilter("ignore")
    found: dict[str, list[str]] = collections.defaultdict(list)
    names = public_names()
    for name in names:
        for code, _message in validate(name)["errors"]:
            if code == "PR01" and name in ATTRIBUTES_AS_PARAMETERS and _fields_in_attributes(name):
                continue
            if code in codes:
                found[code].append(name)
    print(f"{len(names)} public names; " + ", ".join(f"{c}: {len(found[c])}" for c in codes))
    for code in codes:
        print(f"\n{code}:\n" + "\n".join("  " + n for n in found[code]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
