import pytest

from digits.datasets.parsing import ParseError, parse_folder, parse_labels_file, parse_list_file
from tests.support.imagesets import make_class_folders


def test_folder_split_counts_follow_the_percentages(tmp_path):
    root = make_class_folders(tmp_path / "train", per_class=20)
    parsed = parse_folder(root, pct_val=25, pct_test=10, min_per_class=2, max_per_class=None)
    assert parsed.labels == ["blue", "green", "red"]
    assert {s: len(e) for s, e in parsed.splits.items()} == {"train": 39, "val": 15, "test": 6}
    for split in parsed.splits.values():
        per_label = [sum(e.label == i for e in split) for i in range(3)]
        assert len(set(per_label)) == 1  # each class split the same way
    every_path = [e.path for s in parsed.splits.values() for e in s]
    assert len(every_path) == len(set(every_path)) == 60


def test_underscores_in_folder_names_become_spaces(tmp_path):
    make_class_folders(tmp_path / "train", per_class=3)
    (tmp_path / "train" / "red").rename(tmp_path / "train" / "dark_red")
    assert "dark red" in parse_folder(tmp_path / "train", 0, 0, 2, None).labels


def test_max_per_class_is_a_random_choice_not_the_first_files(tmp_path):
    root = make_class_folders(tmp_path / "train", per_class=30)
    chosen = parse_folder(root, 0, 0, 2, 10, seed=1).splits["train"]
    assert len(chosen) == 30
    names = sorted(e.path.rsplit("/", 1)[1] for e in chosen if "/red/" in e.path)
    assert names != [f"{n:03d}.png" for n in range(10)]
    other_seed = parse_folder(root, 0, 0, 2, 10, seed=2).splits["train"]
    assert {e.path for e in chosen} != {e.path for e in other_seed}


def test_classes_under_the_minimum_are_dropped_with_a_message(tmp_path):
    root = make_class_folders(tmp_path / "train", per_class=5)
    make_class_folders(root, classes=("gray",), per_class=1)
    parsed = parse_folder(root, 0, 0, 2, None)
    assert parsed.labels == ["blue", "green", "red"]
    assert parsed.messages == ["class 'gray' dropped: 1 images, fewer than the minimum of 2"]


def test_fewer_than_two_classes_is_an_error_naming_the_field(tmp_path):
    root = make_class_folders(tmp_path / "train", classes=("red",), per_class=5)
    with pytest.raises(ParseError) as info:
        parse_folder(root, 0, 0, 2, None)
    assert info.value.field == "folder_train" and "at least 2" in str(info.value)


def test_separate_val_and_test_folders(tmp_path):
    train = make_class_folders(tmp_path / "train", per_class=8)
    val = make_class_folders(tmp_path / "val", per_class=3)
    test = make_class_folders(tmp_path / "test", classes=("red", "blue"), per_class=2)
    parsed = parse_folder(train, 0, 0, 2, None, val_folder=val, test_folder=test)
    assert {s: len(e) for s, e in parsed.splits.items()} == {"train": 24, "val": 9, "test": 4}
    unknown = make_class_folders(tmp_path / "bad", classes=("gray",), per_class=1)
    with pytest.raises(ParseError) as info:
        parse_folder(train, 0, 0, 2, None, val_folder=unknown)
    assert info.value.field == "folder_val"


def test_list_files_with_relative_and_absolute_paths():
    labels = parse_labels_file("cat\ndog\n")
    text = "a/one.png 0\n/abs/two with space.png 1\n\n# comment\n"
    entries = parse_list_file(text, "textfile_train_images", "/data/pets", labels)
    assert [(e.path, e.label) for e in entries] == [
        ("/data/pets/a/one.png", 0),
        ("/abs/two with space.png", 1),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.png\n", "line 1: expected 'path label'"),
        ("a.png cat\n", "line 1: expected 'path label'"),
        ("a.png 0\nb.png 5\n", "line 2: label 5 is outside the labels file (0 to 1)"),
        ("\n\n", "the file lists no images"),
    ],
)
def test_list_file_errors_name_the_line(text, message):
    with pytest.raises(ParseError) as info:
        parse_list_file(text, "textfile_val_images", "", ["cat", "dog"])
    assert info.value.field == "textfile_val_images" and message in str(info.value)


def test_list_file_errors_never_show_the_file_s_content():
    """A server file read as a list (under the data roots) cannot be read line by line."""
    with pytest.raises(ParseError) as info:
        parse_list_file("root:x:0:0:secret\n", "textfile_local_train_images", "", ["a", "b"])
    assert "line 1" in str(info.value) and "secret" not in str(info.value)


def test_a_labels_file_needs_two_classes():
    with pytest.raises(ParseError):
        parse_labels_file("only\n")
