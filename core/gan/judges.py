"""Who scores a CycleGAN's translations, and how (Zhu et al.'s CycleGAN: core.gan.cycle).

Two judges score a translator, per held-out digit: does a reader of both domains put the translation in the source
digit's class ("keeps its class"), and does a domain classifier take it for the target domain ("looks like B")? The
headline is the joint rate, the share of digits for which both hold:

    joint_ab = (1/n) sum_i [reader(G(a_i)) = y_i] * [domain(G(a_i)) = B]      (the same for F on B, "joint_ba")

Each separate rate can be met by a translator that does not translate: the identity map keeps about 96 % of the
classes (the reader reads both domains) and looks like the other domain almost never; a map to any digit drawn as
B looks like B and keeps 10 %. Two separate rates p and q only bound the joint one: max(0, p + q - 1) <= joint <=
min(p, q). `score_translations` scores any pair of translate functions, the identity map included
(`identity_map`), on the same held-out digits.

The judges are quality runs (core.quality_run, `judge_sets`): the default ones ship in assets/quality/mnist-digits28
and mnist-digits28-domain (made by this module's command line); others are trained once (about a minute on a CPU)
and cached on disk.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core import data as datasets
from core import training
from core.gan.domains import domain_digits, reader_digits, upscaled_digits

READER = {"epochs": 12, "augment": True}  # the reader of both domains: core.quality.ClassifierConfig fields
DOMAIN = {"epochs": 2}  # the domain judge (A or B?): an easy question


def identity_map(X) -> np.ndarray:
    """The translation that does not translate: each image unchanged (flat, float32). The reference of every rate."""
    return np.asarray(X, np.float32).reshape(len(X), -1)


def eval_digits(data_a: datasets.ImageData, data_b: datasets.ImageData, n_eval: int) -> tuple:
    """(xa, ya, xb, yb): the first n_eval held-out digits of each domain (B has 360), on which every translate
    function is scored."""
    n = int(n_eval)
    return data_a.X_test[:n], data_a.y_test[:n], data_b.X_test[:n], data_b.y_test[:n]


def judge_each(images, labels, reader, domain=None, target: int = 1) -> dict[str, np.ndarray]:
    """Per image (boolean arrays of length n): "keeps" (the reader's most probable class is the label), and with a
    domain judge "looks" (its most probable domain is `target`: 0 for A, 1 for B) and "both" (keeps and looks)."""
    out = {"keeps": reader.predict_proba(images).argmax(1) == np.asarray(labels)}
    if domain is not None:
        out["looks"] = domain.predict_proba(images).argmax(1) == int(target)
        out["both"] = out["keeps"] & out["looks"]
    return out


def score_translations(ab: Callable, ba: Callable, judges: "Judges", data_a: datasets.ImageData,
                       data_b: datasets.ImageData, n_eval: int = 500) -> dict[str, float]:
    """Score a pair of translate functions (flat images in [0, 1] -> flat images in [0, 1]; e.g. `translate_with(G)`,
    or `identity_map` for no translation) on `eval_digits`, each image judged once (`judge_each`):

        joint_ab       = mean_i [reader(ab(a_i)) = y_i and domain(ab(a_i)) = B]   the headline, A -> B
        joint_ba       = mean_j [reader(ba(b_j)) = y_j and domain(ba(b_j)) = A]   B -> A
        preservation_* = mean [reader(.) = y]    looks_b, looks_a = mean [domain(.) = target]   the separate rates

    joint, preservation: the two ways' mean. Without a domain judge (judges.domain None) only the preservation."""
    xa, ya, xb, yb = eval_digits(data_a, data_b, n_eval)
    ea = judge_each(ab(xa), ya, judges.b, judges.domain, target=1)
    eb = judge_each(ba(xb), yb, judges.a, judges.domain, target=0)
    row = {}
    if judges.domain is not None:
        row.update(joint_ab=float(ea["both"].mean()), joint_ba=float(eb["both"].mean()))
        row["joint"] = (row["joint_ab"] + row["joint_ba"]) / 2
    row.update(preservation_ab=float(ea["keeps"].mean()), preservation_ba=float(eb["keeps"].mean()))
    row["preservation"] = (row["preservation_ab"] + row["preservation_ba"]) / 2
    if judges.domain is not None:
        row.update(looks_b=float(ea["looks"].mean()), looks_a=float(eb["looks"].mean()))
    return row



@dataclass(frozen=True)
class Judges:
    """Who scores a translation: `a` reads F(B) (as digits of A), `b` reads G(A), `domain` (optional) says which
    domain an image looks like (class 0: A, class 1: B). core.quality.QualityModel instances."""

    a: object
    b: object
    domain: object = None


ROLES = {"reader": "reader of both domains", "domain": "domain judge", "a": "classifier of domain A",
         "b": "classifier of domain B"}  # who judges, in words


def judge_sets(data_a: datasets.ImageData, data_b: datasets.ImageData) -> dict[str, tuple]:
    """{role: (images, core.quality.ClassifierConfig)}: the quality runs (core.quality_run) of the judges. Same
    classes in both domains: "reader" (`reader_digits`, READER) and "domain" (`domain_digits`, DOMAIN); otherwise
    "a" (data_a, the default classifier: the GAN pages' quality classifier) and "b" (data_b, 60 epochs)."""
    from core.quality import ClassifierConfig

    if list(data_a.classes) == list(data_b.classes):
        both = reader_digits(data_a, data_b)
        return {"reader": (both, ClassifierConfig(**READER)),
                "domain": (domain_digits(data_a, data_b, both), ClassifierConfig(**DOMAIN))}
    return {"a": (data_a, ClassifierConfig()), "b": (data_b, ClassifierConfig(epochs=60))}


def judges_of(models: dict) -> Judges:
    """The Judges made of the classifiers of `judge_sets`' roles ({role: core.quality.QualityModel})."""
    if "reader" in models:
        return Judges(models["reader"], models["reader"], models["domain"])
    return Judges(models["a"], models["b"])


def classifiers(data_a: datasets.ImageData, data_b: datasets.ImageData) -> Judges:
    """The judges of a translation (`judge_sets`), each the classifier of a finished quality run
    (core.quality_run.finished_run: the disk cache, else shipped in assets/quality/, else trained once, about a
    minute on a CPU, without progress: the CycleGAN page trains them with explorer.live.train_cached).

    When both domains hold the same classes (MNIST's digits and B's), one reader of both domains judges both
    directions: core.quality's small classifier trained on both domains' training digits, every batch redrawn at
    random (core.quality.augment: another writer's slant, width, strokes and contrast). It reads 97 % of MNIST's
    held-out digits and 97 % of B's. Each domain's own classifier is a narrow judge of the other domain's style:
    B's, from 1,437 digits of a few dozen writers, reads only 39 % of MNIST's digits drawn exactly the way B is
    made (`render_as_b`; the reader of both reads 91 %), so it cannot tell a good translation from a bad one.
    A reader of both domains also reads an untranslated digit, so a second judge, a classifier of the domain
    (trained on the same images without redrawing), says whether a translation looks like its target domain at
    all. Another domain A (Fashion-MNIST) keeps each domain's own classifier and no domain judge."""
    from core.quality import classifier, finished_run

    return judges_of({role: classifier(finished_run(d, cfg)) for role, (d, cfg) in judge_sets(data_a, data_b).items()})


@dataclass
class JudgeRun:
    role: str = "reader"  # which default judge of the CycleGAN page (MNIST and `upscaled_digits`): reader or domain


def judge_steps(run: JudgeRun, data=None):
    """The quality run (core.quality_run.QualitySteps) of one default judge (the command line's)."""
    from core.quality_run import QualitySteps

    sets = judge_sets(datasets.load("mnist"), upscaled_digits())
    if run.role not in sets:
        raise ValueError(f"role must be one of {sorted(sets)}, got {run.role!r}")
    images, cfg = sets[run.role]
    return QualitySteps.of(images, cfg)


def main(argv=None):
    """python -m core.gan.judges --role reader --out assets/quality/mnist-digits28 (and --role domain --out
    assets/quality/mnist-digits28-domain): the CycleGAN page's default judges, shipped like any quality run."""
    return training.main(judge_steps, JudgeRun(), argv, "Train one of the CycleGAN page's default judges (a "
                         "core.quality_run run) and store it under the page's cache key; with --out ship it.")


if __name__ == "__main__":
    main()
