"""Data sets for vecprop: loaders (rows are examples), splits, scalers, one-hot targets, fetch."""
from .csv_file import load_csv, read_csv_features
from .dataset import TASKS, Dataset, Spec
from .download import ChecksumError, fetch
from .idx import find_idx_pairs, load_idx, read_idx
from ..encoding import one_hot  # the core's: integer labels (m,) -> Y (n_classes, m) columns
from .labels import MAX_CLASSES, LabelEncoder, encode_target
from .npy_file import load_npy, load_npz
from .paths import data_dir
from .registry import available, load, load_features
from .scaling import MinMaxScaler, Standardizer, scaler_from_dict
from .splits import Part, Splits, split, split_indices

__all__ = [
    "TASKS", "Dataset", "Spec", "load", "available", "load_features",
    "load_csv", "read_csv_features", "load_npz", "load_npy",
    "read_idx", "load_idx", "find_idx_pairs", "data_dir", "fetch", "ChecksumError",
    "split", "split_indices", "Part", "Splits",
    "Standardizer", "MinMaxScaler", "scaler_from_dict",
    "one_hot", "LabelEncoder", "encode_target", "MAX_CLASSES",
]
