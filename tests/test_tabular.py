"""Tabular data as practitioners have it: other delimiters, text columns, missing values, several targets."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vecprop import Model, Network
from vecprop import datasets as D
from vecprop.cli.prepare import fit_preprocessor, prepare
from vecprop.preprocessing import FeatureWarning


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, sep):
    text = "\n".join(sep.join(row) for row in [["a", "b", "y"], ["1.5", "2", "u"], ["3", "4", "v"], ["5", "6", "u"]])
    ds = D.load(write(tmp_path / "d.csv", text + "\n"))
    assert ds.feature_names == ("a", "b") and ds.X.shape == (3, 2) and ds.classes == ("u", "v")


def test_text_columns_are_categorical_and_one_hot(tmp_path):
    path = write(tmp_path / "d.csv", "size,color,y\n1,red,0\n2,blue,1\n3,red,0\n4,green,1\n")
    ds = D.load(path)
    assert ds.kinds == ("numeric", "categorical") and ds.X.dtype == object
    pre = fit_preprocessor(ds.X, ds.kinds, "error", "none", ds.feature_names)
    assert pre.columns[1].categories == ("blue", "green", "red") and pre.n_0 == 4
    np.testing.assert_array_equal(pre.transform(ds.X[:2]), [[1, 0, 0, 1], [2, 1, 0, 0]])
    with pytest.warns(FeatureWarning, match="category 'purple' was never seen"):
        out = pre.transform(np.array([[5.0, "purple"]], dtype=object))
    np.testing.assert_array_equal(out, [[5, 0, 0, 0]])


def test_a_typo_in_a_numeric_column_is_not_a_category(tmp_path):
    with pytest.raises(ValueError, match=r"column 'b' \(index 1\) holds numbers and 1 non-numeric value\(s\): line 4 "
                                         r"'3,5'"):
        D.load(write(tmp_path / "d.csv", 'a,b,y\n1,2,0\n2,3,1\n3,"3,5",0\n'))


def test_missing_values_error_drop_or_fill(tmp_path):
    text = "a,b,c,y\n1,2,x,0\n,3,y,1\n3,NA,x,0\n4,5,,1\n5,6,y,0\n6,7,x,1\n"
    path = write(tmp_path / "d.csv", text)
    with pytest.raises(ValueError, match=r"3 row\(s\) have missing values: line 3 \('a'\), line 4 \('b'\), line 5 "
                                         r"\('c'\); use --missing"):
        D.load(path)
    dropped = D.load(path, missing="drop")
    assert dropped.m == 3 and "dropped 3 of 6 rows" in dropped.notes[0] and "line 3 ('a')" in dropped.notes[0]
    kept = D.load(path, missing="keep")
    pre = fit_preprocessor(kept.X, kept.kinds, "median", "none", kept.feature_names)
    assert pre.columns[0].fill == 4.0 and pre.columns[1].fill == 5.0  # medians of the present values
    assert "" in pre.columns[2].categories  # a missing text value is a category of its own
    X = pre.transform(kept.X)
    assert X.shape == (6, 2 + 3) and not np.isnan(X).any() and X[1, 0] == 4.0


def test_several_targets_are_regression_outputs(tmp_path):
    path = write(tmp_path / "d.csv", "a,y1,b,y2\n1,10,2,0.5\n2,20,3,0.25\n3,30,4,0.75\n")
    ds = D.load(path, target="y1,y2")
    assert ds.task == "regression" and ds.y.shape == (3, 2) and ds.feature_names == ("a", "b")
    assert D.load(path, target=["y2", 1]).y[0].tolist() == [0.5, 10.0]
    with pytest.raises(ValueError, match="several target columns"):
        D.load(path, target="y1,y2", task="classification")


def test_task_overrides_the_integer_rule(tmp_path):
    rows = "\n".join(f"{i},{i % 13}" for i in range(40))
    path = write(tmp_path / "d.csv", "x,rating\n" + rows + "\n")
    assert D.load(path).task == "multiclass"  # 13 integer values: classes by default
    assert D.load(path, task="regression").task == "regression"
    assert D.load(write(tmp_path / "e.csv", "x,y\n1,0.5\n2,1.5\n3,0.5\n"), task="classification").classes == \
        ("0.5", "1.5")


def test_weight_column(tmp_path):
    path = write(tmp_path / "d.csv", "a,w,y\n1,0.5,0\n2,2,1\n3,1,0\n4,1,1\n")
    ds = D.load(path, weight="w")
    assert ds.feature_names == ("a",) and ds.w.tolist() == [0.5, 2.0, 1.0, 1.0]
    parts = D.split(ds, val_fraction=0.0, test_fraction=0.5, seed=0)
    assert sorted(np.concatenate([parts.train.w, parts.test.w]).tolist()) == [0.5, 1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="weight column 'a' must hold finite numbers >= 0"):
        D.load(write(tmp_path / "neg.csv", "a,b,y\n-1,0,0\n2,1,1\n"), weight="a", target="y")


def test_not_utf8_and_huge_cells_name_the_file(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a,y\ncafé,0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.csv: not UTF-8 text \(byte 0xe9"):
        D.load(str(latin))
    with pytest.raises(ValueError, match=r"big.csv, line 2: .*field larger than field limit"):
        D.load(write(tmp_path / "big.csv", "a,y\n" + "1" * 200_000 + ",0\n"))


def test_a_model_trained_on_text_columns_predicts_from_raw_rows(tmp_path):
    path = write(tmp_path / "d.csv", "size,color,y\n" + "".join(
        f"{i % 7},{['red', 'blue'][i % 2]},{'yes' if i % 2 else 'no'}\n" for i in range(40)))
    ds = D.load(path)
    prep = prepare(ds, loss="binary_cross_entropy", val_fraction=0.0, test_fraction=0.25, seed=0,
                   scale="standardize", target_scale="none", dtype="float64")
    assert prep.train.X.shape[0] == 3  # size, blue, red
    net = Network([3, 1], ["sigmoid"], "binary_cross_entropy", seed=0, dtype="float64")
    net.params[0][0][...] = [[0.0, 5.0, -5.0]]  # "blue" -> yes
    model = Model(net, task="binary", classes=["no", "yes"], feature_names=ds.feature_names,
                  preprocessing=prep.preprocessor)
    raw = np.array([[3, "blue"], [1, "red"]], dtype=object)
    assert model.predict(raw).tolist() == ["yes", "no"]
    back = Model(net, task="binary", classes=["no", "yes"], preprocessing=prep.preprocessor).save(tmp_path / "m.npz")
    from vecprop import load_model

    assert load_model(back).predict(raw).tolist() == ["yes", "no"]


def test_a_file_of_text_has_its_header_found_and_said(tmp_path):
    rows = [("red", "S", "yes"), ("blue", "M", "no"), ("red", "L", "no"), ("blue", "S", "yes"), ("red", "M", "yes")]
    path = write(tmp_path / "t.csv", "color,size,label\n" + "".join(",".join(r) + "\n" for r in rows))
    ds = D.load(path)
    assert ds.feature_names == ("color", "size") and ds.classes == ("no", "yes") and ds.m == 5
    assert any("read the first row (color, size, label) as the header" in n for n in ds.notes)
    as_data = D.load(path, header=False)  # the user says otherwise: the first row is an example
    assert as_data.m == 6 and "label" in as_data.classes and as_data.feature_names is None
    repeated = write(tmp_path / "r.csv", "red,S,yes\n" + "".join(",".join(r) + "\n" for r in rows))
    assert D.load(repeated).m == 6  # its first row's cells come again below: data, not names


@pytest.mark.parametrize("cell", ["NAN", "-nan", "NaN", "Null", "n/A", "none"])
def test_nan_is_missing_however_it_is_spelled(tmp_path, cell):
    path = write(tmp_path / "d.csv", "a,b,y\n" + "".join(f"{cell if i == 2 else i},{i % 3},{i % 2}\n"
                                                          for i in range(12)))
    with pytest.raises(ValueError, match=r"line 4 \('a'\)"):
        D.load(path)
    ds = D.load(path, missing="drop")
    assert ds.m == 11 and np.isfinite(ds.X.astype(float)).all()
    kept = D.load(path, missing="keep")
    assert np.isnan(kept.X[2, 0]) and np.isfinite(np.delete(kept.X, 2, axis=0)).all()


@pytest.mark.parametrize("cells, shown", [(["0,5", "1,25", "-3,0"], "'0,5'"), (["1,000", "12,500", "3,250"], "'1,000'"),
                                          (["1.234,5", "2.000,0", "7.500,25"], "'1.234,5'")])
def test_numbers_with_commas_are_refused_not_made_categories(tmp_path, cells, shown):
    path = write(tmp_path / "d.csv", "a;b;y\n" + "".join(f"{c};{i};{i % 2}\n" for i, c in enumerate(cells * 4)))
    with pytest.raises(ValueError, match=f"column 'a' \\(index 0\\), line 2: {shown} looks like a number with a decimal"):
        D.load(path)
    as_target = write(tmp_path / "t.csv", "b;y\n" + "".join(f"{i};{c}\n" for i, c in enumerate(cells * 4)))
    with pytest.raises(ValueError, match="target column 'y', line 2"):
        D.load(as_target)


def test_the_default_target_is_the_last_column_that_is_not_the_weights(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,y,w\n" + "".join(f"{i},{i % 3},{i % 2},{1 + i % 2}\n" for i in range(10)))
    ds = D.load(path, weight="w")
    assert ds.feature_names == ("a", "b") and len(ds.classes) == 2 and ds.w.tolist() == [1, 2] * 5
    with pytest.raises(ValueError, match="the weight column is one column"):
        D.load(path, weight="w,b")
    with pytest.raises(ValueError, match="weight column 'z' not found"):
        D.load(path, weight="z")


def test_a_header_of_numbers_is_pointed_out_when_its_label_is_alone(tmp_path):
    rows = "".join(f"{i / 7:.3f},{i % 5},{'ab'[i % 2]}\n" for i in range(20))
    path = write(tmp_path / "d.csv", "1,2,y\n" + rows)  # numbers above numbers: no rule can tell it is a header
    guessed = D.load(path)
    assert "y" in guessed.classes and any("label 'y' appears on no other row" in n for n in guessed.notes)
    told = D.load(path, header=True)
    assert told.classes == ("a", "b") and told.feature_names == ("1", "2") and not told.notes
