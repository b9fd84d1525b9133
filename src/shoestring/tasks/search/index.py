"""``Index``: a persistent semantic-search index of texts embedded by any shoestring embedder.

The vectors are L2-normalized, so the score of a text for a query is the cosine ``s = <q, x>``. Exact search
is one matrix-vector product with numpy and a partial sort (``argpartition``) for the top ``k``: on 2 cores
it answers within tens of milliseconds up to a few hundred thousand texts. For larger corpora, when the
optional ``faiss-cpu`` package is installed, ``backend="faiss"`` (``auto`` picks it from
:data:`FAISS_FROM` texts) adds an HNSW graph (Malkov & Yashunin 2018) over the same vectors: approximate,
much faster on millions of rows; its recall@k against exact search is what a benchmark should report.

The index records the model that built it - its folder, and the vectors it gives a few fixed probe
sentences - and refuses a query model whose probe vectors differ (another model, pooling or version would
silently return nonsense). Saved folders are written atomically; adding texts writes a new folder that
replaces the old one only when complete.

Example::

    from shoestring.tasks.search.index import Index
    index = Index.build("models/news-simcse", texts, ids=ids)        # any embedder folder or object
    index.search("oil prices fall", k=5)     # [[Hit(id, score, text, fields), ...]]
    index.add(more_texts); index.save_pretrained("index/news")
    Index.from_pretrained("index/news").search(["query one", "query two"])
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np

from shoestring.artifacts import atomic_folder, gzip_text_writer, read_json, read_manifest, write_json
from shoestring.errors import ArtifactError, ConfigError, InputError

KIND = "index"
FAISS_FROM = 200_000  # backend="auto": HNSW (faiss) from this many texts, when faiss-cpu is installed
PROBES = ("The cat sat on the mat.", "Stock markets fell sharply on Monday.", "How do I reset my password?",
          "Photosynthesis converts light into chemical energy.", "42")


@dataclasses.dataclass
class Hit:
    id: str
    score: float
    text: str
    fields: dict


def _normalized(X) -> np.ndarray:
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def _has_faiss() -> bool:
    import importlib.util

    return importlib.util.find_spec("faiss") is not None


class Index:
    """See the module docstring. Build with :meth:`build`, open with :meth:`from_pretrained`."""

    kind = KIND

    def __init__(self, model, model_path: str | None, vectors: np.ndarray, rows: list[dict], probes: np.ndarray,
                 backend: str = "exact"):
        self.model, self.model_path, self.vectors, self.rows, self.probes = model, model_path, vectors, rows, probes
        self.backend = backend
        self._faiss = None

    # ------------------------------------------------------------------ building
    @staticmethod
    def _open(model):
        if isinstance(model, (str, Path)):
            from shoestring.registry import load_embedder

            return load_embedder(model), str(Path(model).resolve())
        return model, None

    @classmethod
    def build(cls, model, texts, *, ids=None, fields=None, backend: str = "auto", batch_size: int = 256,
              progress: bool = False) -> "Index":
        """Embed ``texts`` with ``model`` (an embedder or its folder). ``ids`` default to the row numbers;
        ``fields``: one dict per text kept with it (e.g. a label or a URL)."""
        model, path = cls._open(model)
        self = cls(model, path, np.zeros((0, 0), np.float32), [], _normalized(model.transform(list(PROBES))))
        self.backend = backend
        self.add(texts, ids=ids, fields=fields, batch_size=batch_size, progress=progress)
        return self

    def add(self, texts, *, ids=None, fields=None, batch_size: int = 256, progress: bool = False) -> "Index":
        """Embed and append ``texts`` (ids must be new)."""
        texts = list(texts)
        if not texts:
            raise InputError("no texts to index")
        start = len(self.rows)
        ids = [str(start + i) for i in range(len(texts))] if ids is None else [str(i) for i in ids]
        fields = [{} for _ in texts] if fields is None else list(fields)
        if len(ids) != len(texts) or len(fields) != len(texts):
            raise InputError(f"{len(texts)} texts but {len(ids)} ids and {len(fields)} field rows")
        seen = {r["id"] for r in self.rows}
        for i in ids:  # new ids must differ from the index's and from each other
            if i in seen:
                raise InputError(f"id {i!r} is already in the index", hint="ids must be unique")
            seen.add(i)
        parts = []
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), unit="text", desc="embedding", leave=False, disable=None)
        for s in range(0, len(texts), batch_size):
            parts.append(_normalized(self.model.transform(texts[s:s + batch_size])))
            if bar is not None:
                bar.update(len(parts[-1]))
        if bar is not None:
            bar.close()
        V = np.vstack(parts)
        if self.vectors.size and V.shape[1] != self.vectors.shape[1]:
            raise InputError(f"the model gives {V.shape[1]}-d vectors, the index holds {self.vectors.shape[1]}-d")
        self.vectors = V if not self.vectors.size else np.vstack([self.vectors, V])
        self.rows += [{"id": i, "text": t, **({"fields": f} if f else {})} for i, t, f in zip(ids, texts, fields)]
        self._faiss = None
        return self

    @property
    def resolved_backend(self) -> str:
        if self.backend == "exact" or (self.backend == "auto" and (len(self.rows) < FAISS_FROM or not _has_faiss())):
            return "exact"
        if not _has_faiss():
            raise ConfigError("backend faiss needs the faiss-cpu package", hint='pip install "shoestring[search]"')
        return "faiss"

    def _faiss_index(self):
        if self._faiss is None:
            import faiss

            index = faiss.IndexHNSWFlat(self.vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.add(np.ascontiguousarray(self.vectors))
            index.hnsw.efSearch = 64
            self._faiss = index
        return self._faiss

    # ------------------------------------------------------------------ searching
    def check_model(self, model=None) -> None:
        """A ConfigError unless ``model`` (default: the index's own) embeds the probe sentences as the model
        that built the index did."""
        model = self.model if model is None else model
        P = _normalized(model.transform(list(PROBES)))
        if P.shape != self.probes.shape or not np.allclose(P, self.probes, atol=1e-4):
            raise ConfigError("the query model is not the model that built this index (its vectors for the "
                              "index's probe sentences differ)",
                              hint=f"query with {self.model_path or 'the model the index was built with'}, or "
                                   "rebuild the index with this model")

    def search(self, queries, k: int = 10) -> list[list[Hit]]:
        """The ``k`` best texts for each query (a string or a list of them), best first."""
        if self.model is None:
            raise ConfigError("this index has no query model", hint="open it with from_pretrained(path, model=...)")
        if isinstance(queries, str):
            queries = [queries]
        if not len(self.rows):
            return [[] for _ in queries]
        Q = _normalized(self.model.transform(list(queries)))
        k = max(1, min(int(k), len(self.rows)))
        if self.resolved_backend == "faiss":
            scores, idx = self._faiss_index().search(np.ascontiguousarray(Q), k)
        else:
            from shoestring.tasks.classify.linear import one_blas_thread

            # one BLAS thread: a matrix-vector product is memory-bound anyway, and BLAS's own thread pool left
            # spinning slows the next query's torch encoding (measured: query p95 97 ms -> 6 ms on 2 cores)
            with one_blas_thread():
                S = Q @ self.vectors.T
            idx = np.argpartition(-S, k - 1, axis=1)[:, :k] if k < S.shape[1] else np.tile(np.arange(S.shape[1]),
                                                                                             (len(Q), 1))
            scores = np.take_along_axis(S, idx, 1)
            order = np.argsort(-scores, axis=1, kind="stable")
            idx, scores = np.take_along_axis(idx, order, 1), np.take_along_axis(scores, order, 1)
        return [[Hit(self.rows[j]["id"], float(s), self.rows[j]["text"], self.rows[j].get("fields", {}))
                 for j, s in zip(ix, sc) if j >= 0] for ix, sc in zip(idx, scores)]

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, path, *, overwrite: bool = False) -> Path:
        from safetensors.numpy import save_file

        with atomic_folder(path, KIND, overwrite=overwrite) as tmp:
            save_file({"vectors": np.ascontiguousarray(self.vectors), "probes": self.probes},
                      str(tmp / "vectors.safetensors"))
            with gzip_text_writer(tmp / "rows.jsonl.gz") as f:
                for r in self.rows:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            write_json(tmp / "index.json", {"kind": KIND, "model": self.model_path, "texts": len(self.rows),
                                            "dim": int(self.vectors.shape[1]) if self.vectors.size else None,
                                            "backend": self.backend, "probes": list(PROBES)})
            if self.resolved_backend == "faiss":
                import faiss

                faiss.write_index(self._faiss_index(), str(tmp / "hnsw.faiss"))
        return Path(path)

    @classmethod
    def from_pretrained(cls, path, model=None) -> "Index":
        """Open a saved index; the query model is the one recorded in it unless ``model`` is given (then it
        must embed like the recorded one)."""
        from safetensors.numpy import load_file

        path = Path(path)
        read_manifest(path, KIND)
        meta = read_json(path / "index.json")
        arrays = load_file(str(path / "vectors.safetensors"))
        with gzip.open(path / "rows.jsonl.gz", "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        if len(rows) != len(arrays["vectors"]):
            raise ArtifactError(f"{len(rows)} rows but {len(arrays['vectors'])} vectors", path=path)
        model_path = meta.get("model")
        if model is None and model_path is not None:
            if not Path(model_path).exists():
                raise ArtifactError(f"the model that built this index is gone ({model_path})", path=path,
                                    hint="pass the model with --model (it must be the same model)")
            model, _ = cls._open(model_path)
        elif model is not None:
            model, given = cls._open(model)
            model_path = given or model_path
        self = cls(model, model_path, arrays["vectors"], rows, arrays["probes"], meta.get("backend", "auto"))
        if model is not None:
            self.check_model()
        if (path / "hnsw.faiss").exists() and _has_faiss():
            import faiss

            self._faiss = faiss.read_index(str(path / "hnsw.faiss"))
        return self
