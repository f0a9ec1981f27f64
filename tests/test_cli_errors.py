"""User mistakes: one ``vecprop: error:`` line naming the problem, exit status 2, no traceback."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop as vp
from cli_helpers import vecprop
from vecprop.cli import main
from vecprop.io import save


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder of broken inputs and two small saved models; the tests run inside it."""
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,x,1\n4,5,0\n")
    (tmp_path / "nan.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,nan,0\n")
    (tmp_path / "ok.csv").write_text("a,b,label\n1,2,u\n3,4,v\n5,6,u\n7,8,v\n")
    (tmp_path / "other.csv").write_text("a,b,label\n1,2,u\n3,4,w\n5,6,u\n7,8,w\n")
    (tmp_path / "ab.csv").write_text("a,a,label\n1,2,u\n3,4,v\n5,6,u\n7,8,v\n")
    (tmp_path / "cols.csv").write_text("a,c\n1,2\n3,4\n")
    (tmp_path / "bad.toml").write_text("[training]\nlr = 0.1\nepoch = 3\n")
    (tmp_path / "broken.toml").write_text("[training\nlr = \n")
    (tmp_path / "section.toml").write_text("[trainig]\nlr = 0.1\n")
    (tmp_path / "types.toml").write_text("[model]\nhidden = 'big'\n")
    (tmp_path / "engine.toml").write_text("[data]\nname = 'xor'\n[training]\nengine = 'turbo'\n")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x07\x03" + bytes(12))
    (tmp_path / "fake.npz").write_bytes(b"not a zip file")
    np.save(tmp_path / "four.npy", np.ones((3, 4)))
    clf = vp.Network([2, 4, 2], ["relu", "softmax"], "cross_entropy", seed=0)
    vp.Model(clf, classes=["u", "v"], feature_names=["a", "b"], scaler="none").save(tmp_path / "clf.npz")
    reg = vp.Network([4, 3, 1], ["tanh", "identity"], "squared_error", seed=0)
    vp.Model(reg, scaler="none").save(tmp_path / "reg.npz")
    save(reg, tmp_path / "bare.npz")
    monkeypatch.chdir(tmp_path)
    return tmp_path


ERRORS = [
    (["train", "--data", "missing.csv"], "no such file or folder: missing.csv"),
    (["train", "--data", "digit"], "did you mean 'digits'?"),
    (["train", "--data", "bad.csv"], "column 'b' (index 1) holds numbers and 1 non-numeric value(s): line 3 'x'"),
    (["train", "--data", "nan.csv"], "1 row(s) have missing values: line 4 ('b'); use --missing"),
    (["train", "--data", "ok.csv", "--target", "nope"], "target column 'nope' not found"),
    (["train", "--data", "train-images-idx3-ubyte"], "magic number 0x00000703"),
    (["train", "--data", "xor", "--lr", "-1"], "lr must be a finite number > 0; got -1.0"),
    (["train", "--data", "xor", "--dropout", "1.5"], "dropout must be in [0, 1); got 1.5"),
    (["train", "--data", "xor", "--val-fraction", "0.9"], "val_fraction + test_fraction must be < 1"),
    (["train", "--data", "xor", "--optimizer", "adm"], "unknown optimizer 'adm'"),
    (["train", "--data", "xor", "--activation", "rleu"], "unknown activation 'rleu'"),
    (["train", "--data", "xor", "--schedule", "cosin"], "unknown schedule 'cosin'"),
    (["train", "--data", "xor", "--warmup", "2"], "--warmup applies to --schedule cosine"),
    (["train"], "no data: give --data"),
    (["train", "--config", "bad.toml", "--data", "xor"], "unknown key 'epoch' in [training] (did you mean 'epochs'?)"),
    (["train", "--config", "broken.toml"], "not valid TOML"),
    (["train", "--config", "section.toml"], "unknown section [trainig] (did you mean 'training'?)"),
    (["train", "--config", "types.toml"], "[model] hidden must be a list of integers; got 'big'"),
    (["train", "--config", "nowhere.toml"], "--config: no such file: nowhere.toml"),
    (["train", "--config", "engine.toml"], "engine must be one of"),
    (["evaluate", "clf.npz", "--data", "iris"], "--data iris lacks the model's feature column(s) 'a', 'b'; it has "
                                                "'sepal length (cm)'"),
    (["evaluate", "clf.npz", "--data", "other.csv"], "has label(s) ['w'] that the model never saw"),
    (["evaluate", "clf.npz", "--data", "ab.csv"], "two columns named 'a'"),
    (["evaluate", "reg.npz", "--data", "iris"], "reg.npz is a regression model; --data iris is multiclass"),
    (["evaluate", "nothing.npz", "--data", "iris"], "MODEL: no such file: nothing.npz"),
    (["evaluate", "fake.npz", "--data", "iris"], "not a vecprop file"),
    (["predict", "clf.npz", "four.npy"], "INPUT four.npy has 4 feature columns; the model takes 2 ('a', 'b')"),
    (["predict", "reg.npz", "clf.npz"], "INPUT: clf.npz: no array 'X'"),
    (["predict", "clf.npz", "cols.csv"], "INPUT cols.csv lacks the model's feature column(s) 'b'; it has 'a', 'c'"),
    (["predict", "clf.npz", "ok.csv", "--output", "ok.csv"], "--output ok.csv is the INPUT file"),
    (["predict", "clf.npz", "absent.npy"], "INPUT: no such file: absent.npy"),
    (["predict", "reg.npz", "four.npy", "--proba"], "--proba is for classifiers"),
    (["predict", "clf.npz", "bad.csv"], "column 'b' (index 1), line 3"),
    (["gradcheck", "--layers", "4"], "--layers needs at least n_0,n_L"),
    (["gradcheck", "--model", "clf.npz", "--layers", "2,2"], "either --layers"),
    (["explain", "--layers", "4"], "--layers needs at least n_0,n_L"),
    (["explain", "--layers", "4,3,2", "--activations", "relu,relu,relu,relu"], "--activations needs 1"),
    (["fetch", "fashion-mnst"], "cannot fetch 'fashion-mnst' (did you mean 'fashion-mnist'?)"),
]


@pytest.mark.parametrize("argv, message", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_user_error_message_and_exit_code(workdir, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vecprop: error: ") and message in err, err
    assert err.count("\n") == 1, "one line, no traceback"


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "xor", "--hidden", "12,x"], "argument --hidden: expected comma-separated integers"),
    (["train", "--data", "xor", "--epochs", "many"], "argument --epochs: invalid int value: 'many'"),
    (["train", "--data", "xor", "--scale", "log"], "argument --scale: invalid choice: 'log'"),
    (["teach"], "invalid choice: 'teach'"),
    ([], "choose a command"),
])
def test_bad_flags_exit_2_with_usage(workdir, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: vecprop" in err and message in err


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "digts"], "did you mean 'digits'?"),
    (["evaluate", "clf.npz", "--data", "iris"], "lacks the model's feature column(s) 'a', 'b'"),
])
def test_subprocess_errors_have_no_traceback(workdir, args, message):
    r = vecprop(*args, cwd=workdir)
    assert r.returncode == 2
    assert r.stderr.startswith("vecprop: error: ") and message in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_internal_errors_keep_their_traceback(workdir, monkeypatch):
    """A bug is not a user mistake: main lets it propagate (Python prints the traceback, exit 1)."""
    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setattr(vp.datasets, "available", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["datasets"])


def test_diverging_training_is_reported_not_raised(workdir, capsys):
    code = main(["train", "--data", "sine", "--hidden", "8", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "3",
                 "--target-scale", "none", "--quiet", "--no-plots", "--out", "run"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("training diverged") == 1 and "--lr" in err and "at epoch 1, batch " in err
    assert "--scale standardize" not in err  # the default already: not suggested
