"""The labeling app in a real browser (Debian's chromium, driven by Playwright; no browser is ever downloaded),
served by ``python -m shoestring label`` as a user starts it: label with the keyboard, undo, reload, export,
save the model; a label acknowledged just before ``kill -9`` is there after a restart; without ``--model`` the
page shows VAMPIRE's pre-training progress until the model is ready."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import write_jsonl
from test_label_app import LABELS, three_topics, write_work

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
KEYS = {"space": "1", "cooking": "2", "football": "3"}


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium (apt-get install -y chromium); these tests never "
                    "download a browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the browser is Debian's)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d, truth, _ = write_work(tmp_path_factory.mktemp("label_browser"))
    return d, truth


class Server:
    """``python -m shoestring label ...`` in a subprocess; ``url`` is the one it prints."""

    def __init__(self, cwd: Path, *args: str):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.log = open(cwd / "server.log", "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "shoestring", "label", *args, "--port", "0"], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in self.proc.stdout], daemon=True).start()
        deadline = time.monotonic() + 60
        self.url = None
        while self.url is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"the server printed no URL within 60 s; see {cwd / 'server.log'}") from None
            m = re.search(r"open (http://\S+)", line)
            self.url = m.group(1) if m else None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn shuts down, the session closes
        rc = self.proc.wait(30)
        self.log.close()
        return rc


def shown(page, not_id: str | None = None, timeout: float = 30_000) -> str:
    """The id of the document the page shows, once it shows one (other than ``not_id``). (Functions, not
    expressions: the page's Content-Security-Policy forbids eval, which Playwright uses for expressions.)"""
    page.wait_for_function("(no) => document.body.dataset.docId && document.body.dataset.docId !== no",
                           arg=not_id or "", timeout=timeout)
    return page.evaluate("document.body.dataset.docId")


def test_keyboard_labeling_undo_reload_export_and_a_label_survives_sigkill(browser, work, tmp_path):
    from shoestring.tasks.active.store import LabelStore

    d, truth = work
    db = tmp_path / "corpus.labels.db"
    args = [str(d / "corpus.jsonl"), "--labels", ",".join(LABELS), "--model", str(d / "wv"), "--db", str(db)]
    srv = Server(tmp_path, *args)
    try:
        page = browser.new_page(accept_downloads=True)
        page.goto(srv.url)
        doc = shown(page)
        keys = page.evaluate("[...document.querySelectorAll('#buttons button')].map("
                             "b => [b.querySelector('kbd').textContent, b.dataset.label])")
        assert keys == [["1", "space"], ["2", "cooking"], ["3", "football"]]  # a shortcut shown on each button
        labelled = []
        for _ in range(8):
            page.keyboard.press(KEYS[truth[doc]])
            labelled.append(doc)
            doc = shown(page, not_id=doc)
        page.wait_for_selector(f"#message:has-text('document {labelled[-1]} labelled {truth[labelled[-1]]}')")

        page.keyboard.press("u")  # the last label comes back
        assert shown(page, not_id=doc) == labelled[-1]
        page.wait_for_selector(f"#message:has-text('undone: your label of document {labelled[-1]}')")
        page.keyboard.press("Backspace")  # and the one before
        assert shown(page, not_id=labelled[-1]) == labelled[-2]
        undone = labelled[-2:]
        labelled = labelled[:-2]
        page.keyboard.press("s")  # skip it
        doc = shown(page, not_id=undone[0])

        page.reload()  # the page shows the same document after a reload (its lease belongs to this tab)
        assert shown(page) == doc
        page.wait_for_selector(f"#status:has-text('{len(labelled)} of 60 labelled')")
        page.wait_for_function("() => document.querySelectorAll('#map circle').length === 60")
        page.wait_for_function(f"() => document.querySelectorAll('#map circle.l').length === {len(labelled)}")
        assert page.inner_text("#prediction").startswith("model (version")

        page.select_option("#export-format", "prodigy")
        with page.expect_download() as dl:
            page.click("#export")
        assert dl.value.suggested_filename == "corpus.labels.jsonl"
        rows = [json.loads(x) for x in Path(dl.value.path()).read_text().splitlines()]
        assert {r["meta"]["id"]: r["accept"][0] for r in rows} == {i: truth[i] for i in labelled}

        page.click("#save-model")
        page.wait_for_selector("#save-result:has-text('saved to')", timeout=30_000)

        with LabelStore(db) as store:  # the database, read while the server runs
            assert store.labelled() == {int(i): truth[i] for i in labelled}
            assert store.skipped() == {int(undone[0])}
            assert [e["action"] for e in store.events()].count("undo") == 2

        # kill -9 right after the page shows the label was stored: it must be on disk
        page.keyboard.press(KEYS[truth[doc]])
        page.wait_for_selector(f"#message:has-text('document {doc} labelled')")
        srv.kill()
        labelled.append(doc)
        with LabelStore(db) as store:
            assert store.labelled() == {int(i): truth[i] for i in labelled}

        srv = Server(tmp_path, *args[:-2])  # the same command: --db is the default name in this folder
        page.goto(srv.url)
        page.wait_for_selector(f"#status:has-text('{len(labelled)} of 60 labelled')")
        assert shown(page) not in labelled
        page.close()
    finally:
        rc = srv.stop()
    assert rc == 0


def test_without_a_model_the_page_shows_pretraining_progress(browser, tmp_path):
    # 3,000 documents: pre-training runs into its 6-second budget (60 documents finish 50 epochs in about a second)
    docs = three_topics(3000)
    write_jsonl(tmp_path / "corpus.jsonl", [{"text": r["text"]} for r in docs])
    truth = {str(i): r["label"] for i, r in enumerate(docs)}
    srv = Server(tmp_path, str(tmp_path / "corpus.jsonl"), "--labels", ",".join(LABELS), "--minutes", "0.1")
    try:
        page = browser.new_page()
        # every text the status line shows, recorded in the page: a short pre-training may be over before a
        # check from here would look, but not before the page has polled and shown it
        page.add_init_script("""window.__seen = [];
            document.addEventListener('DOMContentLoaded', () => {
              const el = document.getElementById('status');
              const note = () => window.__seen.push(el.textContent);
              note();
              new MutationObserver(note).observe(el, {childList: true, characterData: true, subtree: true});
            });""")
        page.goto(srv.url)  # served at once, while VAMPIRE is prepared and pre-trained
        doc = shown(page, timeout=120_000)
        seen = page.evaluate("window.__seen")
        progress = [t for t in seen if "pre-training VAMPIRE: epoch" in t]
        assert progress, seen
        assert re.search(r"epoch \d+/\d+, ETA (\d+s|\d+m\d+s|estimating)", progress[-1])
        page.keyboard.press(KEYS[truth[doc]])
        shown(page, not_id=doc)
        page.close()
    finally:
        assert srv.stop() == 0
    assert (tmp_path / "corpus.labels.vampire" / "manifest.json").is_file()
    assert (tmp_path / "corpus.labels.features.safetensors").is_file()
