"""Settings of ``shoestring bench fewshot`` (the paper's few-label protocol)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from shoestring.bench.baselines import SETFIT_MAX_STEPS
from shoestring.config import Config, param
from shoestring.errors import ConfigError
from shoestring.tasks.classify.config import CONTRASTIVE
from shoestring.training.precision import PRECISIONS

METHODS = ("vampire_glove", "vampire_vectors", "vampire", "vectors", "no_pretraining", "tfidf_lr", "tfidf_pool_lr",
           "glove_lr", "minilm_lr", "setfit", "mlm_lr", "mlm_vampire_lr", "mlm_finetune", "embedder_lr", "auto",
           "auto_own")
# the few-label recipe (tasks/classify/recipe.py) over every view: with the public MiniLM checkpoint (auto), and
# from the user's text only (auto_own: TF-IDF, VAMPIRE, domain word vectors and the --embedder or --mlm model when
# given, no weights from elsewhere)
RECIPES = {"auto": ("tfidf", "vampire", "vectors", "minilm"), "auto_own": ("tfidf", "vampire", "vectors")}
# a compact BERT (--mlm): its mean-pooled features, alone or next to VAMPIRE's, + logistic regression
MLM_FEATURE_METHODS = ("mlm_lr", "mlm_vampire_lr")
# any embedder folder (--embedder: a language model, VAMPIRE, a sentence encoder, a checkpoint...): its features + LR
EMBEDDER_METHODS = ("embedder_lr",)
FEATURE_METHODS = (*MLM_FEATURE_METHODS, *EMBEDDER_METHODS)
# ... and the same BERT fine-tuned end to end on the N labelled rows (shoestring train finetune's defaults)
MLM_METHODS = (*MLM_FEATURE_METHODS, "mlm_finetune")
# the classifier's rows: method -> (uses VAMPIRE, word vectors: None, "domain" (PPMI-SVD on the unlabelled text)
# or "glove" (GloVe 6B 50-d, optional package))
NEURAL = {"vampire_glove": (True, "glove"), "vampire_vectors": (True, "domain"), "vampire": (True, None),
          "vectors": (False, "domain"), "no_pretraining": (False, None)}


@dataclasses.dataclass
class FewshotConfig(Config):
    data: str | None = param(None, "dataset folder with train.jsonl.gz and test.jsonl.gz (and optionally "
                                   "unlabeled.jsonl.gz), e.g. ../shared/data/ag_news")
    labels: list[int] = param([200, 500, 2500, 10000], "numbers of labelled examples N (those larger than the "
                                                       "train split are skipped)")
    seeds: list[int] = param([0, 1, 2, 3, 4], "seeds: N rows drawn with numpy.random.default_rng(seed)"
                                              ".choice(len(train), N, replace=False)")
    methods: list[str] = param([m for m in METHODS if m not in (*MLM_METHODS, *EMBEDDER_METHODS, "setfit")],
                               f"methods to run, from {', '.join(METHODS)} (setfit, slow on a CPU, and the methods "
                               "that need --mlm or --embedder only when named)")
    clean: list[str] = param([], "text clean-up before everything: html (tags, entities), email (headers)",
                             nargs="*")
    vampire_minutes: float = param(3.0, "VAMPIRE pre-training budget in minutes (once per dataset)", min=0.1)
    vampire_epochs: int = param(50, "VAMPIRE pre-training epochs at most", min=1)
    max_unlabeled: int | None = param(None, "use at most this many unlabelled documents for pre-training", min=1)
    encoder: str = param("boe", "the classifier's Seq2Vec encoder", choices=("boe", "cnn", "lstm", "gru"))
    workdir: str = param("bench-work", "folder for the pre-trained models (reused when present and --reuse)")
    reuse: bool = param(True, "reuse a pre-trained VAMPIRE already in --workdir for this dataset")
    threads: int | None = param(None, "CPU threads of the whole run: every method's training, features and "
                                      "inference (torch's and BLAS's; default: one per core); 1 per job when "
                                      "jobs run side by side", min=1)
    setfit_steps: int = param(SETFIT_MAX_STEPS, "setfit: cap on the contrastive fine-tuning steps (batches of "
                                                "16 pairs), 0 for SetFit's own default (one epoch of its pairs, "
                                                "~2,000 steps at N=200; ~6-14 s a step on 2 CPU cores)", min=0)
    recipe_minutes: float = param(10.0, "auto, auto_own: the recipe's --minutes (wall-clock budget of each fit)",
                                  above=0.0)
    contrastive_layers: int | None = param(None, "auto, auto_own: the recipe's --contrastive-layers (fine-tune "
                                                 "only the encoder's top this many layers; None: every layer)", min=1)
    contrastive: str = param("auto", "auto, auto_own: the recipe's --contrastive: auto (the tuned encoder kept where "
                                     "nested cross-validation on the labels says it helps), on (always kept: what "
                                     "the keep-or-drop judgement costs or gains), off", choices=CONTRASTIVE)
    precision: str = param("auto", "auto, auto_own: the recipe's --precision (fp32, bf16, or auto: bf16 where the "
                                   "CPU computes it natively)", choices=PRECISIONS)
    mlm: str | None = param(None, "a compact-BERT folder (`shoestring pretrain mlm`, or a BERT checkpoint) for the "
                                  "mlm_lr, mlm_vampire_lr and mlm_finetune methods, and auto_own's encoder view")
    checkpoint: str | None = param(None, "auto: the public checkpoint its encoder view starts from (default: the "
                                         "offline all-MiniLM-L6-v2 package), e.g. one adapted to the domain with "
                                         "`shoestring pretrain mlm --init-from`")
    embedder: str | None = param(None, "any embedder folder (`shoestring pretrain lm/vampire/simcse/...`, or a "
                                       "BERT-family checkpoint) for the embedder_lr method (its features + LR), and "
                                       "auto_own's encoder view (instead of --mlm's)")

    def _check(self) -> None:
        if not self.data:
            raise ConfigError("--data is required", hint="e.g. --data ../shared/data/ag_news")
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ConfigError(f"unknown method(s) {', '.join(bad)}", hint=f"choose from {', '.join(METHODS)}")
        if any(m in MLM_METHODS for m in self.methods) and not self.mlm:
            raise ConfigError(f"the {' / '.join(MLM_METHODS)} methods need --mlm FOLDER",
                              hint="pre-train one with `shoestring pretrain mlm`, or drop those methods")
        if self.checkpoint and "auto" not in self.methods:
            raise ConfigError("--checkpoint is used by the auto method only", hint="add auto to --methods")
        if self.contrastive != "auto" and not any(m in RECIPES for m in self.methods):
            raise ConfigError(f"--contrastive {self.contrastive} is used by the auto and auto_own methods only",
                              hint="add auto to --methods")
        if self.checkpoint and not Path(self.checkpoint, "config.json").is_file():
            raise ConfigError(f"--checkpoint {self.checkpoint}: not a checkpoint folder (no config.json in it)",
                              hint="give a BERT-family checkpoint folder, e.g. one from `shoestring pretrain mlm`")
        if any(m in EMBEDDER_METHODS for m in self.methods) and not self.embedder:
            raise ConfigError("the embedder_lr method needs --embedder FOLDER",
                              hint="e.g. a language model from `shoestring pretrain lm`, or drop embedder_lr")
        from shoestring.data.cleanup import CLEANUPS

        bad = [c for c in self.clean if c and c not in CLEANUPS]
        if bad:
            raise ConfigError(f"unknown --clean step(s) {', '.join(bad)}", hint=f"choose from {', '.join(CLEANUPS)}")
        if any(n < 2 for n in self.labels):
            raise ConfigError("--labels must be at least 2")
