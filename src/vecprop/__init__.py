"""vecprop: the vectorized back-propagation derivation (N. Rojas, 2019) as a library."""
from . import callbacks, datasets, metrics, optimizers, schedules
from .activations import ACTIVATIONS, Activation, get_activation
from .callbacks import Callback, Checkpoint, EarlyStopping, History
from .encoding import one_hot
from .gradcheck import GradcheckReport, GradcheckWarning, gradcheck
from .initializers import INITIALIZERS, get_initializer
from .io import ModelFileError, load, load_checkpoint, save, save_checkpoint
from .losses import LOSSES, Loss, get_loss
from .model import Model, ModelWarning
from .model_files import load_model
from .network import Cache, Network
from .training import TrainingDiverged, fit, predict

__version__ = "0.2.0"

__all__ = [
    "ACTIVATIONS", "Activation", "Cache", "Callback", "Checkpoint", "EarlyStopping", "GradcheckReport",
    "GradcheckWarning", "History", "INITIALIZERS", "LOSSES", "Loss", "Network", "TrainingDiverged",
    "callbacks", "datasets", "fit", "get_activation", "get_initializer", "get_loss", "gradcheck",
    "load", "load_checkpoint", "load_model", "metrics", "Model", "ModelWarning", "ModelFileError", "save_checkpoint", "one_hot", "optimizers", "predict", "save", "schedules",
]
