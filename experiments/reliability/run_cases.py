"""Run the reliability cases of issue 20 through the documented commands and count the outcomes per class.

Each case builds its inputs in a temporary folder, runs one ``multisurv`` command in a subprocess (or, for the
report, the library call that writes it) and classifies the result:

- ``clear``: refused with a non-zero exit, no traceback, and the message names the place and the fix (the
  case's ``expect`` pattern), or accepted with the expected warning;
- ``unclear``: refused without a traceback but the message lacks the expected place/fix;
- ``traceback``: a Python traceback or a crash (negative exit code: a signal such as a segfault);
- ``silent``: exit 0 where the input must be refused (a silently wrong result);
- ``lost``: results finished before a fault are missing afterwards, or a fault was recorded as a patient failure.

Usage: ``python experiments/reliability/run_cases.py [--out counts.json]`` (about 2-4 minutes). The full-disk case
needs root (it mounts a 1 MB tmpfs) and is skipped otherwise. The fast checks of the same behaviour are the
default-run tests (tests/test_faults.py, tests/test_persistence.py, tests/cohort/test_images.py,
tests/cohort/test_outcomes.py, tests/report/test_report_escaping.py).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
CASES: list[tuple[str, str, object]] = []


def case(klass: str):
    def register(fn):
        CASES.append((klass, fn.__name__, fn))
        return fn
    return register


def cli(*args, cwd=None, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "multisurv.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def refused(rc: int, out: str, expect: str) -> str:
    if rc < 0 or "Traceback (most recent call last)" in out:
        return "traceback"
    if rc == 0:
        return "silent"
    return "clear" if re.search(expect, out) else "unclear"


# ------------------------------------------------------------------------------------------------------------
# class 1 and 6: entry points, manifests and tables
# ------------------------------------------------------------------------------------------------------------

def study(root: Path, n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    x = rng.normal(size=n)
    manifest = pd.DataFrame({"patient_id": ids, "time": np.round(rng.exponential(np.exp(-x)) * 100 + 1, 1),
                             "event": (rng.random(n) < 0.7).astype(int), "age": rng.normal(60, 8, n).round(),
                             "sex": rng.choice(["female", "male"], n)})
    features = pd.DataFrame(rng.normal(size=(n, 4)), columns=[f"ct__f{i}" for i in range(4)])
    features["ct__f0"] = x + 0.3 * features["ct__f0"]
    features.insert(0, "patient_id", ids)
    manifest.to_csv(root / "manifest.csv", index=False)
    features.to_csv(root / "radiomics.csv", index=False)
    config = {"schema": "model_config.v1", "manifest": "manifest.csv", "features": ["radiomics.csv"],
              "clinical": {"numeric": ["age"], "categorical": ["sex"]},
              "modalities": [{"name": "radscore", "prefix": "ct__", "selector": [{"lasso": {"alpha": 0.05}}]},
                             {"name": "clinscore", "prefix": "clin__", "selector": [{"lasso": {"alpha": 0.05}}]}],
              "fusion": {"strategy": "late", "cv": 3}, "seed": 0}
    (root / "model.yaml").write_text(yaml.safe_dump(config))
    return manifest


_MODEL: dict[str, Path] = {}


def fitted_model() -> Path:
    if "root" not in _MODEL:
        root = Path(tempfile.mkdtemp(prefix="rel-model-"))
        study(root)
        rc, out = cli("fit", root / "model.yaml", "--out", root / "model")
        assert rc == 0, out
        _MODEL["root"] = root
    return _MODEL["root"]


def fit_with(tmp: Path, edit, expect: str) -> str:
    manifest = study(tmp)
    edit(manifest)
    manifest.to_csv(tmp / "manifest.csv", index=False)
    return refused(*cli("fit", tmp / "model.yaml", "--out", tmp / "m"), expect)


@case("1 entry points skip the validator")
def fit_event_2(tmp):
    return fit_with(tmp, lambda m: m.__setitem__("event", m["event"].where(m.index != 4, 2)),
                    r"row 6 \(patient_id='P004'\), column 'event': must be 1 \(event\) or 0")


@case("1 entry points skip the validator")
def fit_duplicate_ids(tmp):
    return fit_with(tmp, lambda m: m.__setitem__("patient_id", m["patient_id"].where(m.index != 7, "P003")),
                    r"rows 5, 9, column 'patient_id': must be unique")


@case("1 entry points skip the validator")
def predict_duplicate_ids(tmp):
    root = fitted_model()
    m = pd.read_csv(root / "manifest.csv")
    m.loc[3, "patient_id"] = "P000"
    m.to_csv(tmp / "new.csv", index=False)
    return refused(*cli("predict", root / "model" / "model", tmp / "new.csv", "--features", root / "radiomics.csv",
                        "--out",
                        tmp / "s.csv"), r"rows 2, 5, column 'patient_id': must be unique")


@case("1 entry points skip the validator")
def predict_ids_match_no_feature_row(tmp):
    root = fitted_model()
    f = pd.read_csv(root / "radiomics.csv")
    f["patient_id"] = range(len(f))
    f.to_csv(tmp / "radiomics.csv", index=False)
    return refused(*cli("predict", root / "model" / "model", root / "manifest.csv", "--features", tmp / "radiomics.csv",
                        "--out", tmp / "s.csv"), r"radiomics.csv: no patient_id matches one of manifest.csv")


@case("1 entry points skip the validator")
def predict_unknown_category(tmp):
    root = fitted_model()
    m = pd.read_csv(root / "manifest.csv")
    m.loc[5, "sex"] = "M"
    m.to_csv(tmp / "new.csv", index=False)
    return refused(*cli("predict", root / "model" / "model", tmp / "new.csv", "--features", root / "radiomics.csv",
                        "--out",
                        tmp / "s.csv"), r"row 7 \(patient_id='P005'\), column 'sex': must be one of 'female', 'male'")


@case("6 errors without a location")
def fit_negative_time(tmp):
    return fit_with(tmp, lambda m: m.__setitem__("time", m["time"].where(m.index != 2, -3)),
                    r"row 4 \(patient_id='P002'\), column 'time': must be a number > 0; got '-3")


@case("6 errors without a location")
def fit_text_time(tmp):
    return fit_with(tmp, lambda m: m.__setitem__("time", m["time"].astype(object).where(m.index != 2, "soon")),
                    r"column 'time': must be a number > 0; got 'soon'")


def _bad_file(tmp: Path, kind: str) -> Path:
    path = tmp / "m.csv"
    path.write_bytes({"empty": b"", "latin1": b"patient_id,ct_image,ct_mask,wsi,time,event\nP\xe9,a,b,c,1,1\n",
                      "xlsx": b"PK\x03\x04" + b"\0" * 40}[kind])
    return path


_FILE_EXPECT = {"empty": r"m.csv is empty", "latin1": r"m.csv, line 2: must be UTF-8 text",
                "xlsx": r"spreadsheet workbook"}
_VALIDATE_EXPECT = {"empty": r"m.csv is empty", "latin1": r"line 2 is not UTF-8", "xlsx": r"spreadsheet workbook"}


def _register_file_cases():
    for kind in ("empty", "latin1", "xlsx"):
        for command in ("fit", "predict", "extract radiomics", "extract pathomics", "validate"):
            def run(tmp, kind=kind, command=command):
                path = _bad_file(tmp, kind)
                if command == "fit":
                    study(tmp)
                    cfg = yaml.safe_load((tmp / "model.yaml").read_text())
                    cfg["manifest"] = "m.csv"
                    (tmp / "model.yaml").write_text(yaml.safe_dump(cfg))
                    args = ["fit", tmp / "model.yaml", "--out", tmp / "out"]
                elif command == "predict":
                    args = ["predict", fitted_model() / "model" / "model", path, "--out", tmp / "s.csv"]
                elif command == "validate":
                    args = ["validate", path]
                else:
                    args = [*command.split(), path, "--out", tmp / "out"]
                expect = _FILE_EXPECT[kind] if command != "validate" else _VALIDATE_EXPECT[kind]
                return refused(*cli(*args), expect)
            run.__name__ = f"{command.replace(' ', '_')}_{kind}_manifest"
            CASES.append(("6 errors without a location", run.__name__, run))


_register_file_cases()


@case("6 errors without a location")
def km_all_events_at_one_time(tmp):
    (tmp / "d.csv").write_text("time,event,group\n5,1,a\n5,1,a\n5,1,b\n5,1,b\n")
    return refused(*cli("km", tmp / "d.csv", "--time-col", "time", "--event-col", "event", "--group-col", "group",
                        "--out", tmp / "out"), r"d.csv, columns 'time' and 'event': the groups cannot be compared")


@case("6 errors without a location")
def fit_duplicate_selector_steps(tmp):
    study(tmp)
    cfg = yaml.safe_load((tmp / "model.yaml").read_text())
    cfg["modalities"][0]["selector"] = [{"lasso": {}}, {"lasso": {"cv": 3}}, {"nope": {}}]
    (tmp / "model.yaml").write_text(yaml.safe_dump(cfg))
    rc, out = cli("fit", tmp / "model.yaml", "--out", tmp / "m")
    return refused(rc, out, r"selector step 'lasso' is listed 2 times[\s\S]*unknown selector 'nope'")


@case("6 errors without a location")
def classifier_checkpoint_missing_keys(tmp):
    from multisurv.features.wsi.classifier import CHECKPOINT_FORMAT

    __import__("torch").save({"format": CHECKPOINT_FORMAT, "classes": ["tumour", "stroma"]}, tmp / "clf.pt")
    (tmp / "m.csv").write_text("patient_id,wsi\nP1,missing.svs\n")
    return refused(*cli("extract", "pathomics", tmp / "m.csv", "--out", tmp / "out", "--classifier", tmp / "clf.pt",
                        "--device", "cpu"), r"clf.pt' lacks 'backbone', 'state_dict', .*Save it again")


# ------------------------------------------------------------------------------------------------------------
# class 2: image and mask mix-ups
# ------------------------------------------------------------------------------------------------------------

def ct_inputs(tmp: Path, image: str = "image.nrrd", mask: str = "mask.nrrd", n: int = 2) -> Path:
    shutil.copy(DATA / "breast1_image.nrrd", tmp / "image.nrrd")
    shutil.copy(DATA / "breast1_label.nrrd", tmp / "mask.nrrd")
    shutil.copy(DATA / "breast1_label.nrrd", tmp / "mask2.nrrd")
    rows = ["patient_id,cohort,time,event,ct_image,ct_mask,wsi"]
    rows += [f"P{i},development,{10 + i},1,image.nrrd,mask.nrrd," for i in range(n - 1)]
    rows.append(f"PX,development,9,1,{image},{mask},")
    (tmp / "m.csv").write_text("\n".join(rows) + "\n")
    (tmp / "spec.yaml").write_text("schema: clinical_variables.v1\nvariables: []\n")
    return tmp / "m.csv"


def _mixup(tmp, image, mask, expect, command):
    path = ct_inputs(tmp, image, mask)
    if command == "validate":
        return refused(*cli("validate", path, "--clinical-spec", tmp / "spec.yaml"), expect)
    rc, out = cli("extract", "radiomics", path, "--out", tmp / "out", "--params", "radiomics_ct", "--no-progress")
    failures = tmp / "out" / "radiomics_errors.csv"
    listed = failures.is_file() and "PX" in failures.read_text() and re.search(expect, failures.read_text())
    if rc < 0 or "Traceback" in out:
        return "traceback"
    return "clear" if listed else "silent"  # extraction records the patient's failure and goes on (by design)


for _name, (_image, _mask, _expect) in {
        "swapped": ("mask.nrrd", "image.nrrd", r"238 distinct non-zero values"),
        "image_as_own_mask": ("image.nrrd", "image.nrrd", r"same file"),
        "mask_as_image": ("mask.nrrd", "mask2.nrrd", r"only 2 distinct value"),
}.items():
    for _command in ("validate", "extract"):
        def _run(tmp, image=_image, mask=_mask, expect=_expect, command=_command):
            return _mixup(tmp, image, mask, expect, command)
        _run.__name__ = f"{_command}_{_name}"
        CASES.append(("2 image and mask mix-ups", _run.__name__, _run))


@case("2 image and mask mix-ups")
def extract_nan_voxel(tmp):
    sitk = __import__("SimpleITK")
    path = ct_inputs(tmp, "nan.nrrd", "mask.nrrd")
    image = sitk.Cast(sitk.ReadImage(str(tmp / "image.nrrd")), sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(image)
    array[tuple(np.argwhere(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp / "mask.nrrd"))) == 1)[0])] = np.nan
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    sitk.WriteImage(out, str(tmp / "nan.nrrd"))
    return _mixup(tmp, "nan.nrrd", "mask.nrrd", r"NaN or infinite voxel", "extract") if path else "unclear"


@case("2 image and mask mix-ups")
def extract_absurd_spacing(tmp):
    sitk = __import__("SimpleITK")
    ct_inputs(tmp)
    for name in ("image.nrrd", "mask.nrrd"):
        volume = sitk.ReadImage(str(tmp / name))
        volume.SetSpacing((1000.0, 1000.0, 1000.0))
        sitk.WriteImage(volume, str(tmp / f"big_{name}"))
    path = ct_inputs(tmp, "big_image.nrrd", "big_mask.nrrd")
    for name in ("image.nrrd", "mask.nrrd"):  # ct_inputs re-copied the originals; rewrite the big pair
        volume = sitk.ReadImage(str(DATA / ("breast1_" + ("image.nrrd" if name == "image.nrrd" else "label.nrrd"))))
        volume.SetSpacing((1000.0, 1000.0, 1000.0))
        sitk.WriteImage(volume, str(tmp / f"big_{name}"))
    rc, out = cli("extract", "radiomics", path, "--out", tmp / "out", "--params", "radiomics_ct_ibsi", "--no-progress",
                  timeout=300)
    failures = tmp / "out" / "radiomics_errors.csv"
    if rc < 0 or "Traceback" in out:
        return "traceback"
    return "clear" if failures.is_file() and "would make a grid of" in failures.read_text() else "silent"


@case("2 image and mask mix-ups")
def validate_fragmented_roi(tmp):
    sitk = __import__("SimpleITK")
    path = ct_inputs(tmp, "image.nrrd", "noisy.nrrd")
    mask = sitk.ReadImage(str(tmp / "mask.nrrd"))
    array = np.zeros(sitk.GetArrayViewFromImage(mask).shape, np.int16)
    array[::2, ::4, ::4] = 1
    noisy = sitk.GetImageFromArray(array)
    noisy.CopyInformation(mask)
    sitk.WriteImage(noisy, str(tmp / "noisy.nrrd"))
    rc, out = cli("validate", path, "--clinical-spec", tmp / "spec.yaml")
    if rc < 0 or "Traceback" in out:
        return "traceback"
    return "clear" if rc == 0 and "disconnected pieces" in out else "silent"


# ------------------------------------------------------------------------------------------------------------
# class 3: report injection
# ------------------------------------------------------------------------------------------------------------

HOSTILE = ['<script>alert("id")</script>', '"><img src=x onerror=alert(1)>', "<svg/onload=alert(2)>",
           "[click](javascript:alert(3))", "<a href='javascript:alert(4)'>x</a>", "<iframe src=//evil>",
           "![x](javascript:alert(5))", "<style>body{display:none}</style>"]

for _k, _text in enumerate(HOSTILE):
    def _report(tmp, text=_text):
        from types import SimpleNamespace

        from multisurv.report.report import write_report

        ids = [f"{text}-{i}" for i in range(6)]
        table = pd.DataFrame({"cohort": [f"dev{text}"] * 3 + [f"ext{text}"] * 3, "time": [5.0, 8, 13, 4, 9, 11],
                              "event": [1, 0, 1, 1, 0, 1], "ct_image": ["a"] * 6, "wsi": ["b"] * 6},
                             index=pd.Index(ids, name="patient_id"))
        metrics = pd.DataFrame([{"model": f"m{text}", "cohort": f"dev{text}", "n": 3, "events": 2, "cindex": 0.7,
                                 "ci_lower": 0.6, "ci_upper": 0.8, "logrank_p": 0.04}])
        write_report(tmp, cohort=SimpleNamespace(table=table, source=text), metrics=metrics,
                     failures=pd.DataFrame({"patient_id": [ids[0]], "stage": [text], "message": [text]}),
                     formulas={f"r{text}": pd.DataFrame({"feature": [f"ct__{text}", "(intercept)"], "coef": [1, 0]})},
                     fusion_formula=pd.DataFrame({"term": [f"s{text}"], "coef": [0.9]}), elapsed=1.0,
                     extra={f"Study{text}": text}, notes=[text])
        body = (tmp / "report.html").read_text().split("<body>", 1)[1]
        tags = set(re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)", body))
        unsafe = tags - {"h1", "h2", "h3", "p", "ul", "ol", "li", "strong", "em", "code", "pre", "table", "thead",
                         "tbody", "tr", "th", "td", "a", "img", "br", "hr"}
        handlers = [t for t in re.findall(r"<[^>]*>", body) if re.search(r"\son[a-z]+=", t) or "javascript:" in t]
        return "silent" if unsafe or handlers else "clear"
    _report.__name__ = f"report_hostile_{_k}"
    CASES.append(("3 report injection", _report.__name__, _report))


# ------------------------------------------------------------------------------------------------------------
# class 4: model files
# ------------------------------------------------------------------------------------------------------------

class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _hostile_folder(folder: Path, name: str, data: bytes, fmt: str) -> None:
    from multisurv.persistence import sha256_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    (folder / "manifest.json").write_text(json.dumps({"format": fmt, "model_sha256": sha256_file(folder / name),
                                                      "versions": {}, "feature_columns": []}))


def _predict_refused(tmp, folder, expect, marker):
    rc, out = cli("predict", folder, fitted_model() / "manifest.csv", "--out", tmp / "s.csv")
    if marker.exists():
        return "silent"  # the payload ran
    return refused(rc, out, expect)


@case("4 model files that run code")
def predict_pickle_v1_folder(tmp):
    marker = tmp / "ran"
    _hostile_folder(tmp / "m", "model.joblib", pickle.dumps(_Payload(marker)), "multisurv-model.v1")
    return _predict_refused(tmp, tmp / "m", r"is a pickle \(model.joblib\), which can run code", marker)


@case("4 model files that run code")
def predict_rehashed_pickle_as_skops(tmp):
    marker = tmp / "ran"
    _hostile_folder(tmp / "m", "model.skops", pickle.dumps(_Payload(marker)), "multisurv-model.v2")
    return _predict_refused(tmp, tmp / "m", r"is not a skops model file", marker)


@case("4 model files that run code")
def predict_skops_calling_os_system(tmp):
    marker = tmp / "ran"
    node = lambda cls, mod, loader, **kw: {"__class__": cls, "__module__": mod, "__loader__": loader, **kw}  # noqa
    schema = node("system", "os", "LossNode", __id__=2, protocol=2, _skops_version="0.16.0",
                  __reduce__={"args": node("tuple", "builtins", "TupleNode", __id__=3, content=[
                      node("str", "builtins", "JsonNode", content=json.dumps(f"touch {marker}"), is_json=True,
                           __id__=1)])},
                  content=node("dict", "builtins", "DictNode", content={}, __id__=4,
                               key_types=node("list", "builtins", "ListNode", content=[], __id__=5)))
    buf = tmp / "x.zip"
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    _hostile_folder(tmp / "m", "model.skops", buf.read_bytes(), "multisurv-model.v2")
    return _predict_refused(tmp, tmp / "m", r"names type\(s\) that a multisurv model never contains: os.system",
                            marker)


@case("4 model files that run code")
def predict_tampered_model(tmp):
    shutil.copytree(fitted_model() / "model" / "model", tmp / "m")
    data = bytearray((tmp / "m" / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp / "m" / "model.skops").write_bytes(bytes(data))
    return _predict_refused(tmp, tmp / "m", r"the model file was changed after it was saved", tmp / "never")


@case("4 model files that run code")
def predict_model_path_is_a_file(tmp):
    (tmp / "m").write_text("x")
    return _predict_refused(tmp, tmp / "m", r"is a file; a saved multisurv model is a folder", tmp / "never")


# ------------------------------------------------------------------------------------------------------------
# class 5: resource faults
# ------------------------------------------------------------------------------------------------------------

@case("5 resource faults are not patient failures")
def extract_pathomics_cuda_without_gpu(tmp):
    if __import__("torch").cuda.is_available():
        return "skipped"
    (tmp / "m.csv").write_text("patient_id,wsi\nP1,a.svs\n")
    return refused(*cli("extract", "pathomics", tmp / "m.csv", "--out", tmp / "out", "--device", "cuda"),
                   r"--device 'cuda': .*Run with '--device cpu'")


@case("5 resource faults are not patient failures")
def extract_output_is_a_file(tmp):
    path = ct_inputs(tmp)
    (tmp / "out").write_text("x")
    return refused(*cli("extract", "radiomics", path, "--out", tmp / "out"), r"--out .*is a file, not a folder")


@case("5 resource faults are not patient failures")
def extract_radiomics_disk_full(tmp):
    if os.geteuid() != 0:
        return "skipped"
    small = tmp / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)]).returncode != 0:
        return "skipped"
    try:
        path = ct_inputs(tmp, n=6)
        rc, out = cli("extract", "radiomics", path, "--out", small / "out", "--params", "radiomics_ct",
                      "--no-progress")
        if rc == 0:  # the 6 results fit: empty the cache, fill the disk but ~3 results, and extract again
            used = sum(p.stat().st_size for p in (small / "out").rglob("*") if p.is_file())
            shutil.rmtree(small / "out", ignore_errors=True)
            free = os.statvfs(small).f_bavail * os.statvfs(small).f_frsize
            (small / "fill").write_bytes(b"\0" * max(free - used // 2, 0))
            rc, out = cli("extract", "radiomics", path, "--out", small / "out", "--params", "radiomics_ct",
                          "--no-progress")
        failures = list((small / "out").rglob("failures.csv"))
        recorded = any("No space" in f.read_text() or "Errno 28" in f.read_text() for f in failures)
        if recorded:
            return "lost"
        return refused(rc, out, r"stopped at patient .*the disk is full .*not recorded in failures.csv")
    finally:
        subprocess.run(["umount", str(small)])


@case("5 resource faults are not patient failures")
def patch_file_on_full_disk_no_segfault(tmp):
    if os.geteuid() != 0:
        return "skipped"
    small = tmp / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(small)]).returncode != 0:
        return "skipped"
    code = ("import numpy as np\nfrom multisurv.features.wsi.patch_store import PatchWriter\n"
            f"w = PatchWriter({str(small / 'p.h5')!r}, 2000, 512, coords=np.zeros((2000, 2)), tissue=np.ones(2000))\n"
            "w.write(np.arange(2000), np.random.rand(2000, 512), keep=np.ones(2000, bool))\n"
            "try:\n    w.close()\nexcept OSError as e:\n    print('ENOSPC' if e.errno == 28 else e)\n    w.abort()\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        if proc.returncode < 0:
            return "traceback"  # segfault
        return "clear" if proc.returncode == 0 and "ENOSPC" in proc.stdout else "unclear"
    finally:
        subprocess.run(["umount", str(small)])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _kill_case(tmp, sig) -> str:
    path = ct_inputs(tmp, n=12)
    out = tmp / "out"
    proc = subprocess.Popen([sys.executable, "-m", "multisurv.cli", "extract", "radiomics", str(path), "--out",
                             str(out), "--workers", "2", "--params", "radiomics_ct", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    workers = _children(proc.pid)
    if len(workers) < 2:
        proc.kill()
        return "unclear"
    time.sleep(0.5)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [w for w in workers if _alive(w)]
    for w in alive:
        os.kill(w, signal.SIGKILL)
    if alive:
        return "silent"  # workers outlived their parent
    rc, text = cli("extract", "radiomics", path, "--out", out, "--workers", "2", "--params", "radiomics_ct",
                   "--no-progress")
    stale = list(out.rglob("*.tmp"))
    table = out / "radiomics_features.csv"
    if rc != 0 or stale or not table.is_file() or len(pd.read_csv(table)) != 12:
        return "lost"
    return "clear"


@case("5 resource faults are not patient failures")
def extract_radiomics_workers_sigkill(tmp):
    return _kill_case(tmp, signal.SIGKILL)


@case("5 resource faults are not patient failures")
def extract_radiomics_workers_sigterm(tmp):
    return _kill_case(tmp, signal.SIGTERM)


# ------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("counts.json"))
    parser.add_argument("-k", default=None, help="Run only cases whose name contains this.")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, str]] = defaultdict(dict)
    for klass, name, fn in CASES:
        if args.k and args.k not in name:
            continue
        with tempfile.TemporaryDirectory(prefix="rel-") as tmp:
            started = time.perf_counter()
            try:
                outcome = fn(Path(tmp))
            except Exception as exc:  # the harness itself: report the case as a traceback, keep going
                outcome = "traceback"
                print(f"  harness error in {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            results[klass][name] = outcome
            print(f"{outcome:9s} {time.perf_counter() - started:5.1f} s  {klass}: {name}", flush=True)
    counts = {klass: dict(Counter(v.values())) | {"tried": sum(o != "skipped" for o in v.values())}
              for klass, v in sorted(results.items())}
    args.out.write_text(json.dumps({"counts": counts, "cases": results}, indent=2, sort_keys=True) + "\n")
    print(json.dumps(counts, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
