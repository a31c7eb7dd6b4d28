"""The download's files, made once per snapshot and format."""

from digits.models import download, export
from tests.support.trained import trained_classifier


def test_an_export_made_by_an_earlier_format_is_made_again_not_served(tmp_path, monkeypatch):
    store, model = trained_classifier(tmp_path)
    first = export.export_model(store, model.id, None)
    assert (first / "model.onnx").exists() and (first / "info.json").exists()
    (first / "info.json").write_text("{}")  # as an earlier version would have left it
    assert export.export_model(store, model.id, None) == first  # made once, then kept
    monkeypatch.setattr(download, "EXPORT_FORMAT", download.EXPORT_FORMAT + 1)
    again = export.export_model(store, model.id, None)
    assert again != first and (again / "info.json").read_text() != "{}"
