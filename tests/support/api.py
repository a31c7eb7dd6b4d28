"""What the tests ask of a running server, as a user's script would: through the JSON API."""

import requests

from tests.support.processes import Server, wait_until

MODELS = "/models/images/classification.json"
DATASETS = "/datasets/images/classification.json"


def post(server, path: str, files=None, **fields) -> requests.Response:
    """A POST as fred (DIGITS' `username` field, a server without accounts)."""
    return requests.post(server.url + path, data={"username": "fred", **fields}, files=files)


def created(response: requests.Response) -> str:
    """The id of the job a creation request made (it must have made one)."""
    assert response.status_code == 200, response.text
    return response.json()["id"]


def build_dataset(server, folder, name: str, size: int = 28, **fields) -> str:
    """A dataset of the class folders in `folder` (20% for validation), size x size; its id."""
    defaults = {
        "method": "folder",
        "folder_train": str(folder),
        "folder_pct_val": "20",
        "resize_width": str(size),
        "resize_height": str(size),
        "dataset_name": name,
    }
    return created(post(server, DATASETS, **{**defaults, **fields}))


def train(server, dataset: str, **fields) -> str:
    """A LeNet model job on `dataset` at a fixed rate (fields override); its id."""
    defaults = {
        "method": "standard",
        "standard_networks": "lenet",
        "dataset": dataset,
        "lr_policy": "fixed",
        "model_name": "lenet",
    }
    return created(post(server, MODELS, **{**defaults, **fields}))


def login(url: str) -> requests.Session:
    session = requests.Session()
    session.post(url + "/login", data={"username": "fred"}).raise_for_status()
    return session


def finished(server: Server, job_id: str, timeout: float = 120) -> dict:
    """The job once it has ended (Done, Error or Aborted)."""

    def ended():
        job = requests.get(f"{server.url}/jobs/{job_id}.json").json()
        return job if job["status"] in ("Done", "Error", "Aborted") else None

    return wait_until(ended, timeout, interval=0.2)
