"""What the fault scenarios ask of a running server, as a user's script would."""

import requests


def post(server, path, **fields) -> requests.Response:
    return requests.post(server.url + path, data={"username": "fred", **fields})


def train(server, dataset, **fields) -> str:
    """A LeNet model job on `dataset` (fields override); its id."""
    defaults = {
        "method": "standard",
        "standard_networks": "lenet",
        "dataset": dataset,
        "lr_policy": "fixed",
        "model_name": "lenet",
    }
    response = post(server, "/models/images/classification.json", **{**defaults, **fields})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def build_dataset(server, folder, name: str) -> str:
    """A 28x28 dataset of the class folders in `folder` (20% for validation); its id."""
    response = post(
        server,
        "/datasets/images/classification.json",
        method="folder",
        folder_train=str(folder),
        folder_pct_val="20",
        resize_width="28",
        resize_height="28",
        dataset_name=name,
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]
