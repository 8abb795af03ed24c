"""The store verbs: runs, export, import, delete."""

from __future__ import annotations

from charlstm.runs.bundles import bundle_config
from charlstm.runs.store import RunStore, StoreError
from charlstm.serve import settings as settings_mod
from charlstm.serve.settings import public_here


def cmd_runs(args, store: RunStore) -> int:
    runs = store.list()
    if not runs:
        print(f"no stored runs in {store.runs}")
    for r in runs:
        vl = f"{r.val_loss:.4f}" if r.val_loss is not None else "-"
        print(f"{r.key}  {r.status:<9} {r.meta.get('corpus_name', '?')[:24]:<24} {r.config.layers}x{r.config.units:<4} "
              f"epochs {r.epochs_done}/{r.config.epochs}  val {vl}  {r.meta.get('created', '')}")
    return 0


def cmd_export(args, store: RunStore) -> int:
    run = store.find(args.run)
    data = store.export_bundle(run.key)
    with open(args.file, "wb") as f:
        f.write(data)
    print(f"wrote {args.file} ({len(data) / 1e6:.1f} MB)")
    return 0


def cmd_import(args, store: RunStore) -> int:
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise StoreError(f"cannot read {args.file}: {e.strerror}") from None
    if public_here():  # on the public server's host: the caps its Train page applies before importing a bundle
        problems = settings_mod.from_env().problems(bundle_config(data).replace(epochs=1, minutes=0.0))
        if problems:
            raise ValueError("not imported: " + "; ".join(problems) + " (CHARLSTM_MODE=public)")
    run = store.import_bundle(data)
    print(f"imported run {run.key}")
    return 0


def cmd_delete(args, store: RunStore) -> int:
    run = store.find(args.run)
    store.delete(run.key)
    print(f"deleted run {run.key}")
    return 0


def store_commands(sub) -> None:
    sub.add_parser("runs", help="list stored runs").set_defaults(fn=cmd_runs)
    e = sub.add_parser("export", help="write a stored run as one zip bundle")
    e.add_argument("run")
    e.add_argument("file")
    e.set_defaults(fn=cmd_export)
    i = sub.add_parser("import", help="add a run from a zip bundle (validated)")
    i.add_argument("file")
    i.set_defaults(fn=cmd_import)
    d = sub.add_parser("delete", help="delete a stored run")
    d.add_argument("run")
    d.set_defaults(fn=cmd_delete)
