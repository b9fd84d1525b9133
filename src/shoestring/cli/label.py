"""``shoestring label``: label documents in the browser with active learning, and move the labels in and out.

    shoestring label corpus.jsonl --labels sports,world,business        serve http://127.0.0.1:8765/
    shoestring label corpus.jsonl --labels-file labels.txt --model models/vampire --port 0
    shoestring label export corpus.labels.db -o labels.jsonl --format jsonl|csv|prodigy|labelstudio
    shoestring label import corpus.labels.db prodigy.jsonl              Prodigy JSONL or Label Studio JSON

Without ``--model`` VAMPIRE is pre-trained on the corpus first (``--minutes``); the page is served at once and
shows the progress. The labels live in ``corpus.labels.db`` (SQLite) in the current folder; running the same
command again continues where it stopped. Needs the ``label`` extra: ``pip install shoestring[label]``.
"""

from __future__ import annotations

USAGE = """shoestring label CORPUS (--labels A,B,C | --labels-file FILE) [options]
       shoestring label export DB -o FILE [--format jsonl|csv|prodigy|labelstudio]
       shoestring label import DB FILE [--format auto|prodigy|labelstudio|jsonl|csv] [--add-labels]"""


def register(sub) -> None:
    from shoestring.data.config import ReadConfig

    s = sub.add_parser("label", usage=USAGE, help="label documents in the browser with active learning; `label "
                                                  "export`/`label import` move labels out and in",
                       description="Label documents in the browser with active learning (a local web app); export the "
                                   "labels, or import them from Prodigy or Label Studio.",
                       epilog="Needs the label extra: pip install 'shoestring[label]'.")
    s.add_argument("args", nargs="+", metavar="CORPUS | export DB | import DB FILE")
    g = s.add_argument_group("labeling")
    g.add_argument("--labels", help="the label set, comma-separated, in button order (at a restart: new labels may "
                                    "be added; default: the recorded set)")
    g.add_argument("--labels-file", help="the label set, one label per line")
    g.add_argument("--model", help="the embedder folder (a shoestring VAMPIRE, masked-LM, sentence-encoder or word-"
                                   "vector folder, or a Hugging Face checkpoint folder); default: pre-train VAMPIRE "
                                   "on the corpus (saved beside the database and reused)")
    g.add_argument("--minutes", type=float, default=2.0, help="VAMPIRE's pre-training budget without --model "
                                                              "(default 2)")
    g.add_argument("--strategy", default="margin", help="which document to ask next: random, least_confidence, "
                                                        "margin, entropy, kcenter, kmeanspp, cluster_margin, badge "
                                                        "(default margin)")
    g.add_argument("--db", help="the label database (default: CORPUS-NAME.labels.db in the current folder)")
    g.add_argument("--force-new", action="store_true", help="the corpus changed: start --db over (the old file is "
                                                            "kept beside it)")
    g.add_argument("--id-field", help="a field holding each document's id (default: the row number)")
    g.add_argument("--save-model-to", help="where `save model` writes the classifier (default: beside the "
                                           "database, NAME.labels.classifier)")
    g.add_argument("--seed", type=int, default=0, help="seed of the strategy, the map sample and pre-training")
    g = s.add_argument_group("serving")
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                                                       "only; any other address needs the access token)")
    g.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: a free one, printed)")
    g.add_argument("--token", help="the access token (default: none on loopback, a random one otherwise)")
    g = s.add_argument_group("export and import")
    g.add_argument("-o", "--output", help="export: the file to write")
    g.add_argument("--overwrite", action="store_true", help="export: replace an existing file")
    g.add_argument("--add-labels", action="store_true", help="import: add labels outside the label set to it")
    g.add_argument("--format", help="labeling: the corpus format (auto, jsonl, csv, tsv, txt, folder); export: "
                                    "jsonl, csv, prodigy or labelstudio (default: from the -o name); import: auto "
                                    "(default, from the name), prodigy, labelstudio, jsonl or csv")
    ReadConfig.add_arguments(s, exclude=("format",))
    s.set_defaults(func=cmd_label)


def cmd_label(a):
    if a.args[0] == "export":
        return cmd_export(a)
    if a.args[0] == "import":
        return cmd_import(a)
    return cmd_serve(a)


def _labels(a) -> list[str] | None:
    from pathlib import Path

    from shoestring.errors import ConfigError, InputError

    if a.labels and a.labels_file:
        raise ConfigError("give --labels or --labels-file, not both")
    if a.labels:
        return [x.strip() for x in a.labels.split(",")]
    if a.labels_file:
        p = Path(a.labels_file)
        if not p.is_file():
            raise InputError("no such file", path=p, hint="--labels-file takes a text file, one label per line")
        return [x.strip() for x in p.read_text(encoding="utf-8-sig").splitlines() if x.strip()]
    return None


def default_db(corpus) -> "Path":
    """``CORPUS-NAME.labels.db`` in the current folder (``news.jsonl.gz`` -> ``news.labels.db``)."""
    from pathlib import Path

    name = Path(corpus).name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".txt"):
        name = name.removesuffix(suffix)
    return Path.cwd() / f"{name or 'corpus'}.labels.db"


def _need_web():
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        from shoestring.errors import ConfigError

        raise ConfigError(f"`shoestring label` needs FastAPI and uvicorn ({e.name} is not installed)",
                          hint="pip install 'shoestring[label]'") from None


def _listen(host: str, port: int):
    """A bound, listening socket (port 0: the system picks a free one), or an error that says what to do."""
    import socket

    from shoestring.errors import ConfigError

    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise ConfigError(f"cannot listen on --host {host}: {e.strerror}") from None
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(info[4])
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}",
                          hint="another program (or another `shoestring label`) uses that port: pass --port 0 for "
                               "a free one, or another --port") from None
    sock.listen(128)
    return sock


def cmd_serve(a):
    import secrets
    import sys

    from shoestring.cli.common import read_kw
    from shoestring.errors import ConfigError

    if len(a.args) != 1:
        raise ConfigError("usage: shoestring label CORPUS --labels A,B,C (or label export / label import)",
                          hint="one corpus file; `shoestring label -h` lists the options")
    if a.output or a.add_labels:
        raise ConfigError("-o and --add-labels belong to `label export` and `label import`")
    _need_web()
    import uvicorn

    from shoestring.apps.label.server import create_app, is_loopback
    from shoestring.apps.label.session import LabelSession

    db = a.db or default_db(a.args[0])
    loopback = is_loopback(a.host)
    token = a.token or (None if loopback else secrets.token_urlsafe(18))
    labels = _labels(a)
    sock = _listen(a.host, a.port)  # first: a port in use is said before the corpus is read
    port = sock.getsockname()[1]
    try:
        session = LabelSession(a.args[0], db, labels=labels, model=a.model, minutes=a.minutes,
                               strategy=a.strategy, id_field=a.id_field, read_kw=read_kw(a), force_new=a.force_new,
                               save_model_to=a.save_model_to, seed=a.seed)
    except BaseException:
        sock.close()
        raise
    try:
        # on loopback only requests addressed to this machine's names pass (no DNS rebinding from a web page)
        allowed = {"127.0.0.1", "localhost", "::1", a.host} if loopback else None
        app = create_app(session, token=token, allowed_hosts=allowed)
        host = f"[{a.host}]" if ":" in a.host else a.host
        url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
        p = session.store.progress()
        print(f"labeling {session.corpus.path.name}: {p['total']} documents, {p['labelled']} labelled, labels "
              f"{', '.join(session.store.labels)}; database {db}", flush=True)
        print(f"open {url}   (Ctrl-C to stop; every label is saved as it is given)", flush=True)
        if not loopback:
            print("  listening beyond this machine: every request needs the token in that URL (from another "
                  "machine, put this machine's name or address in place of the host)", file=sys.stderr)
        session.start()
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))

        def stop_if_start_up_fails():
            session.wait_ready_quietly()
            if session.phase == "error":
                server.should_exit = True

        import threading

        threading.Thread(target=stop_if_start_up_fails, daemon=True).start()
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl-C, then raises it again: stopping is the plan
            pass
    finally:
        session.close()
    if session.phase == "error":  # a model that cannot be opened or trained: say why, exit 2, as other commands do
        session.wait_ready(0)
    print(f"stopped. The labels are in {db}; export them with `shoestring label export {db} -o labels.jsonl`")


def cmd_export(a):
    from shoestring.errors import ConfigError
    from shoestring.tasks.active.formats import export_file
    from shoestring.tasks.active.store import LabelStore

    if len(a.args) != 2 or not a.output:
        raise ConfigError("usage: shoestring label export DB -o FILE [--format jsonl|csv|prodigy|labelstudio]")
    fmt = a.format or _format_from_name(a.output)
    with LabelStore(a.args[1]) as store:
        n = export_file(store, a.output, fmt, overwrite=a.overwrite)
    print(f"{a.output}: {n} labelled documents ({fmt})")


def _format_from_name(path: str) -> str:
    low = path.lower()
    return "csv" if low.endswith(".csv") else "labelstudio" if low.endswith(".json") else "jsonl"


def cmd_import(a):
    import sys

    from shoestring.errors import ConfigError, InputError
    from shoestring.tasks.active.formats import import_file
    from shoestring.tasks.active.store import LabelStore

    if len(a.args) != 3:
        raise ConfigError("usage: shoestring label import DB FILE [--format auto|prodigy|labelstudio|jsonl|csv]")
    with LabelStore(a.args[1]) as store:
        report = import_file(store, a.args[2], a.format or "auto", add_labels=a.add_labels)
    print(report.summary(), file=sys.stderr if report.not_imported else sys.stdout)
    if report.rows and not report.matched:
        raise InputError("no row of the file could be imported (see above)", path=a.args[2],
                         hint="is it an export of this corpus? Texts must match the corpus's")
