"""The labeling app through FastAPI's TestClient, on 60 planted documents of 3 topics and tiny word vectors:
label, next, undo, skip, counts, export, the saved model predicting as the app does, a restart continuing
where it stopped, the token and Host guard, bad requests changing nothing, concurrent clients."""

import json
import threading

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from conftest import GROUPS, write_jsonl  # noqa: E402
from shoestring.apps.label.server import create_app, is_loopback, token_ok  # noqa: E402
from shoestring.apps.label.session import LabelSession, shortcuts  # noqa: E402

LABELS = ["space", "cooking", "football"]


def three_topics(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(n):
        g = LABELS[i % 3]
        words = list(rng.choice(GROUPS[g], size=int(rng.integers(12, 20)))) + list(rng.choice(["the", "and"], 2))
        docs.append({"text": " ".join(words), "label": g})
    return docs


def write_work(d):
    """The corpus (``corpus.jsonl``, texts only) and tiny word vectors (``wv/``) in ``d``; returns ``(d, gold
    label by document id, texts)``."""
    from shoestring.learners.vectors.ppmi import WordVectors

    docs = three_topics()
    write_jsonl(d / "corpus.jsonl", [{"text": r["text"]} for r in docs])
    WordVectors(dim=8, min_count=1).fit([r["text"] for r in docs]).save_pretrained(d / "wv")
    return d, {str(i): r["label"] for i, r in enumerate(docs)}, [r["text"] for r in docs]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return write_work(tmp_path_factory.mktemp("label_app"))


@pytest.fixture
def app(work, tmp_path):
    """``open(**kw) -> (session, client)``: a started session on a fresh database in tmp_path."""
    d, _, _ = work
    opened = []

    def open_(start=True, db="corpus.labels.db", **kw):
        kw.setdefault("model", d / "wv")
        s = LabelSession(d / "corpus.jsonl", tmp_path / db, labels=kw.pop("labels", LABELS), progress=False, **kw)
        opened.append(s)
        if start:
            s.start().wait_ready(60)
        return s, TestClient(create_app(s))

    yield open_
    for s in opened:
        s.close()


def H(client="tab-a"):
    return {"X-Client-Id": client}


def label_until(c, truth, n, client="tab-a"):
    """Label ``n`` documents as the app hands them out (with the true label); returns their ids."""
    ids = []
    doc = c.get("/api/next", headers=H(client)).json()["next"]
    for _ in range(n):
        r = c.post("/api/label", json={"id": doc["id"], "label": truth[doc["id"]]}, headers=H(client))
        assert r.status_code == 200, r.text
        ids.append(doc["id"])
        doc = r.json()["next"]
    return ids


def test_label_next_skip_undo_and_the_live_state(work, app):
    _, truth, _ = work
    s, c = app()
    st = c.get("/api/state").json()
    assert st["phase"] == "ready" and st["labels"] == LABELS and st["shortcuts"] == {"space": "1", "cooking": "2",
                                                                                    "football": "3"}
    first = c.get("/api/next", headers=H()).json()["next"]
    assert first["prediction"] is None  # no model before two classes have a label
    assert c.get("/api/next", headers=H()).json()["next"]["id"] == first["id"]  # the same one until it is labelled
    other = c.get("/api/next", headers=H("tab-b")).json()["next"]
    assert other["id"] != first["id"]  # leased: another client gets another document
    ids = label_until(c, truth, 12)
    s.wait_idle()
    st = c.get("/api/state").json()
    assert st["labelled"] == 12 and sum(st["counts"].values()) == 12
    assert st["model"]["version"] >= 2 and st["model"]["retraining"] is False
    assert st["accuracy"]["n"] == 12 and st["accuracy"]["accuracy"] >= 0.9
    assert len(st["map"]["colors"]) == 60 and sum(st["map"]["labelled"]) == 12
    m = c.get("/api/map").json()
    assert len(m["x"]) == len(m["rows"]) == 60 and 0 <= min(m["x"]) and max(m["x"] + m["y"]) <= 1
    doc = c.get("/api/next", headers=H()).json()["next"]
    assert doc["prediction"]["label"] in LABELS and 0 < doc["prediction"]["confidence"] <= 1

    r = c.post("/api/undo", json={}, headers=H()).json()  # the last label comes back, open again
    assert r["undone"] == {"id": ids[-1], "action": "label", "restored": True, "status": "open", "label": None}
    assert r["next"]["id"] == ids[-1] and r["next"]["status"] == "open"
    assert c.get("/api/next", headers=H()).json()["next"]["id"] == ids[-1]
    r = c.post("/api/skip", json={"id": ids[-1]}, headers=H()).json()
    assert r["next"]["id"] != ids[-1]
    st = c.get("/api/state").json()
    assert (st["labelled"], st["skipped"], st["open"]) == (11, 1, 48)
    seen = {c.get("/api/next", headers=H(f"tab-{k}")).json()["next"]["id"] for k in range(20)}
    assert ids[-1] not in seen and not seen & set(ids)  # skipped and labelled ones are never offered
    assert c.post("/api/undo", json={}, headers=H()).json()["next"]["id"] == ids[-1]  # the skip undone
    assert s.store.labelled() == {int(i): truth[i] for i in ids[:-1]}


def test_export_and_the_saved_model_predicts_as_the_app(work, app):
    import shoestring

    _, truth, texts = work
    s, c = app()
    label_until(c, truth, 15)
    s.wait_idle()
    r = c.get("/api/export", params={"format": "csv"})
    assert r.status_code == 200 and 'filename="corpus.labels.csv"' in r.headers["content-disposition"]
    assert r.text.splitlines()[0] == "id,text,label" and len(r.text.splitlines()) == 16
    r = c.get("/api/export", params={"format": "labelstudio"})
    assert len(r.json()) == 15
    r = c.get("/api/export", params={"format": "xml"})
    assert r.status_code == 400 and "choose one of jsonl, csv, prodigy, labelstudio" in r.json()["error"]

    r = c.post("/api/save-model", json={})
    assert r.status_code == 200, r.text
    path = r.json()["path"]
    assert path == str(s.save_model_to) and path.endswith("corpus.labels.classifier")
    clf = shoestring.load(path)
    assert clf.predict(texts) == s.learner.predict()
    assert np.mean([p == truth[str(i)] for i, p in enumerate(clf.predict(texts))]) >= 0.9
    assert c.post("/api/save-model", json={}).status_code == 200  # saving again replaces it


def test_a_restart_continues_and_reuses_the_cached_features(work, app, monkeypatch, tmp_path):
    from shoestring.learners.vectors.ppmi import WordVectors
    from shoestring.tasks.classify.views import EmbeddingView

    d, truth, texts = work
    s, c = app()
    ids = label_until(c, truth, 5)
    assert s.features_path.is_file()
    s.close()

    def no_embedding(self, texts):
        raise AssertionError("the features should come from the cache")

    with monkeypatch.context() as m:
        m.setattr(EmbeddingView, "transform", no_embedding)
        s2, c2 = app(labels=LABELS + ["music"])  # a new label may be added
    assert c2.get("/api/state").json()["counts"] == {**{y: sum(truth[i] == y for i in ids) for y in LABELS},
                                                     "music": 0}
    offered = set()
    for k in range(55):  # every other document, each once, never a labelled one (the same client: its lease
        doc = c2.get("/api/next", headers=H()).json()["next"]  # from before the restart still holds one)
        offered.add(doc["id"])
        assert c2.post("/api/skip", json={"id": doc["id"]}, headers=H()).status_code == 200
    assert c2.get("/api/next", headers=H()).json()["next"] is None
    assert len(offered) == 55 and not offered & set(ids)
    s2.close()

    WordVectors(dim=6, min_count=1, seed=1).fit(texts).save_pretrained(tmp_path / "wv2")  # another model:
    calls = []
    real = EmbeddingView.transform
    monkeypatch.setattr(EmbeddingView, "transform", lambda self, t: calls.append(1) or real(self, t))
    s3, _ = app(model=tmp_path / "wv2")
    assert calls and s3.learner.X_.shape == (60, 6)  # the features are recomputed


def test_a_changed_corpus_stops_the_start(work, app, tmp_path):
    d, _, _ = work
    app(start=False)
    changed = tmp_path / "corpus.jsonl"
    changed.write_text((d / "corpus.jsonl").read_text() + '{"text": "one more document"}\n')
    with pytest.raises(Exception, match="is not the one this label database was made from") as e:
        LabelSession(changed, tmp_path / "corpus.labels.db", labels=LABELS, model=d / "wv")
    assert str(changed) in str(e.value) and str(d / "corpus.jsonl") in str(e.value)
    assert "--force-new" in str(e.value)


def test_token_and_host_guard(work, app):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
    assert token_ok(None, {}, {})
    assert token_ok("t0k", {"x-token": "t0k"}, {}) and token_ok("t0k", {"authorization": "Bearer t0k"}, {})
    assert token_ok("t0k", {}, {"token": "t0k"})
    assert not token_ok("t0k", {}, {}) and not token_ok("t0k", {"x-token": "t0K"}, {})

    s, _ = app(start=False)
    c = TestClient(create_app(s, token="t0k"))
    for path in ("/", "/api/state", "/api/export"):
        r = c.get(path)
        assert r.status_code == 401 and "access token" in r.json()["error"]
    assert c.post("/api/label", json={"id": "1", "label": "space"}).status_code == 401
    assert c.get("/api/state", headers={"X-Token": "t0k"}).status_code == 200
    assert c.get("/?token=t0k").status_code == 200 and "<title>shoestring label</title>" in c.get("/?token=t0k").text
    assert c.get("/api/state", headers={"X-Token": "wrong"}).status_code == 401

    local = TestClient(create_app(s, allowed_hosts={"127.0.0.1", "localhost"}), base_url="http://127.0.0.1:8765")
    assert local.get("/api/state").status_code == 200
    r = local.get("/api/state", headers={"Host": "evil.example:8765"})  # DNS rebinding: another name, same address
    assert r.status_code == 403


def test_bad_requests_get_a_clear_4xx_and_change_nothing(work, app):
    _, truth, _ = work
    s, c = app()
    label_until(c, truth, 3)
    doc = c.get("/api/next", headers=H()).json()["next"]
    before = (s.store.rows(labelled_only=False), s.store.events(), dict(s.learner.labels_))
    js = {"Content-Type": "application/json", **H()}
    cases = [
        (c.post("/api/label", content=b'{"id": "1", "label": ', headers=js), 400, "not valid JSON"),
        (c.post("/api/label", content=b"\xff\xfe", headers=js), 400, "not valid JSON"),
        (c.post("/api/label", json=["1", "space"], headers=H()), 400, "must be a JSON object"),
        (c.post("/api/label", json={"id": doc["id"]}, headers=H()), 400, "no 'label' field"),
        (c.post("/api/label", json={"id": doc["id"], "label": "sports"}, headers=H()), 400, "unknown label 'sports'"),
        (c.post("/api/label", json={"id": doc["id"], "label": 3}, headers=H()), 400, "'label' must be a string"),
        (c.post("/api/label", json={"id": "9999", "label": "space"}, headers=H()), 404, "no document with id '9999'"),
        (c.post("/api/label", json={"id": [1], "label": "space"}, headers=H()), 400, "must be a string or an integer"),
        (c.post("/api/label", json={"id": doc["id"], "label": "space", "pad": "x" * 70_000}, headers=H()), 413,
         "over 65536 bytes"),
        (c.post("/api/label", content=(b"x" * 30_000 for _ in range(3)), headers=js), 413, "over 65536 bytes"),
        (c.post("/api/label", content=json.dumps({"id": doc["id"], "label": "space"}),
                headers={"Content-Type": "text/plain", **H()}), 415, "application/json"),
        (c.post("/api/label", json={"id": doc["id"], "label": "space"}, headers=H("bad id!")), 400, "X-Client-Id"),
        (c.get("/api/nowhere"), 404, "Not Found"),
    ]
    for r, status, text in cases:
        assert r.status_code == status and text in r.json()["error"], (r.status_code, r.text)
    assert (s.store.rows(labelled_only=False), s.store.events(), dict(s.learner.labels_)) == before
    r = c.post("/api/skip", json={"id": doc["id"], "unused": 1}, headers=H())  # and a good one still works
    assert r.status_code == 200 and s.store.skipped() == {int(doc["id"])}


def test_not_ready_yet_is_503_and_the_state_says_why(app):
    s, c = app(start=False)
    r = c.get("/api/next", headers=H())
    assert r.status_code == 503 and "not ready" in r.json()["error"]
    assert c.get("/api/state").json()["phase"] == "starting"
    assert shortcuts([f"l{i}" for i in range(12)])["l9"] == "a"
    assert "s" not in shortcuts([f"l{i}" for i in range(30)]).values()


def test_concurrent_clients_never_share_a_document_or_lose_a_label(work, app):
    _, truth, _ = work
    s, c0 = app()
    holding, done, errors = {}, {}, []
    lock = threading.Lock()

    def labeler(k):
        me = f"tab-{k}"
        c = TestClient(c0.app)
        mine = []
        try:
            doc = c.get("/api/next", headers=H(me)).json()["next"]
            while doc is not None:
                with lock:
                    assert doc["id"] not in {v for who, v in holding.items() if who != me}, "shown to two clients"
                    holding[me] = doc["id"]
                r = c.post("/api/label", json={"id": doc["id"], "label": truth[doc["id"]]}, headers=H(me))
                assert r.status_code == 200, r.text
                mine.append(doc["id"])
                doc = r.json()["next"]
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        done[me] = mine

    threads = [threading.Thread(target=labeler, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    everything = [i for ids in done.values() for i in ids]
    assert len(everything) == len(set(everything)) == 60  # each document labelled once, by one client
    assert all(len(ids) > 0 for ids in done.values())
    assert s.store.labelled() == {int(i): y for i, y in truth.items()}
    assert sum(e["action"] == "label" for e in s.store.events()) == 60
    s.wait_idle()
    assert len(s.learner.labels_) == 60


@pytest.mark.slow
def test_without_a_model_vampire_is_pretrained_with_progress_and_reused(work, app):
    s, _ = app(start=False, model=None, minutes=0.5,
               pretrain=dict(latent_dim=8, batch_size=20, max_epochs=3, kl_warmup=1, threads=1))
    said = []
    real = s._set_phase
    s._set_phase = lambda phase, message, progress=None, quiet=False: said.append((phase, message, progress)) or \
        real(phase, message, progress, quiet=quiet)
    s.start().wait_ready(120)
    epochs = [(m, p) for phase, m, p in said if phase == "pretraining" and m.startswith("pre-training VAMPIRE: epoch")]
    assert epochs and ", ETA " in epochs[-1][0] and epochs[-1][1]["max_epochs"] == 3
    assert (s.vampire_dir / "manifest.json").is_file() and s.features_path.is_file()
    assert s.store.meta["vampire_corpus_sha256"] == s.corpus.sha256  # after --force-new it is not reused
    assert s.learner.X_.shape == (60, s.embedder.dim)
    s.close()
    s2, _ = app(start=False, model=None)
    said.clear()
    s2._set_phase = lambda phase, message, progress=None, quiet=False: said.append((phase, message, progress)) or \
        real(phase, message, progress, quiet=quiet)
    s2.start().wait_ready(60)
    assert any("reusing the VAMPIRE" in m for _, m, _ in said) and not any(p == "pretraining" for p, _, _ in said)
