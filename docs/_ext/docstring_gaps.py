import importlib, inspect, pkgutil, collections, sys, warnings
warnings.simplefilter("ignore")
import multisurv
from numpydoc.validate import validate
mods = [m.name for m in pkgutil.walk_packages(multisurv.__path__, "multisurv.") if not any(p.startswith("_") for p in m.name.split("."))]
cnt = collections.Counter(); per = collections.defaultdict(list)
names = []
for mn in mods:
    mod = importlib.import_module(mn)
    pub = getattr(mod, "__all__", None)
    if pub is None:
        pub = [n for n, o in vars(mod).items() if not n.startswith("_") and (inspect.isfunction(o) or inspect.isclass(o)) and getattr(o, "__module__", None) == mn]
    for n in pub:
        o = getattr(mod, n, None)
        if o is None or not (inspect.isfunction(o) or inspect.isclass(o)): continue
        if getattr(o, "__module__", mn) != mn: continue
        names.append(f"{mn}.{n}")
        if inspect.isclass(o):
            for an, a in vars(o).items():
                if an.startswith("_"): continue
                if inspect.isfunction(a) or isinstance(a, (classmethod, staticmethod, property)):
                    names.append(f"{mn}.{n}.{an}")
print(len(mods), "modules", len(names), "names")
codes = sys.argv[1].split(",")
for full in names:
    try:
        r = validate(full)
    except Exception as e:
        print("ERR", full, e); continue
    for code, msg in r["errors"]:
        if code in codes:
            cnt[code] += 1; per[code].append(full)
print(cnt)
for c in codes:
    print(c, per[c][:400] if len(sys.argv) > 2 else per[c][:10])
