"""A user's code runs in a sandbox (bubblewrap): it cannot read the key that signs everyone's
sessions, see other jobs or processes, reach the network, or change what other users' models
answer; a model that hangs is stopped and the worker goes on serving others.

Each test is an attack that worked before the sandbox, made through the API as a user would."""

import io
import json
import os
import time
import zipfile
from pathlib import Path

import pytest
import requests

from digits import sandbox
from tests.support import api
from tests.support.api import finished
from tests.support.imagesets import make_class_folders
from tests.support.processes import (
    Server,
    data_roots_of,
    processes_named,
    skip_or_fail,
    wait_until,
)

CLASSIFY = "/models/images/classification/classify_one.json"
VISUALIZE = "/models/visualize-network.json"

# Runs when the trainer builds the network: looks around and writes what it saw into its own
# job's folder (the one place it may write).
SNOOPING_NETWORK = """
import json, os, socket, sys
jobs = os.environ["DIGITS_JOBS_DIR"]

def snoop():
    seen = {"jobs": sorted(os.listdir(jobs)), "environ": sorted(os.environ)}
    try:
        seen["key"] = open(os.path.join(jobs, ".secret_key")).read()
    except OSError as exc:
        seen["key"] = None
    try:
        open(os.path.join(jobs, DATASET, "planted"), "w").write("x")
        seen["wrote_dataset"] = True
    except OSError:
        seen["wrote_dataset"] = False
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
        seen["server_reached"] = True
    except OSError:
        seen["server_reached"] = False
    seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    open(os.path.join(jobs, sys.argv[-1], "seen.json"), "w").write(json.dumps(seen))

if os.path.isdir(jobs):  # in the trainer (the fit check at submission sees no jobs at all)
    snoop()

def network(n, c, h, w):
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, n))
"""

# Runs in whatever process loads the model: patches what every answer goes through.
TAMPERING_NETWORK = """
import digits.models.inference as inference
inference.top_scores = lambda probabilities, labels, k=5: [["TAMPERED", 1.0]]

def network(n, c, h, w):
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, n))
"""

# Trains (batches of 2 and more) but hangs on a single image, as Classify One sends it.
HANGING_NETWORK = """
import time

class Net(nn.Module):
    def __init__(self, n, c, h, w):
        super().__init__()
        self.linear = nn.Linear(c * h * w, n)

    def forward(self, x):
        if x.shape[0] == 1:
            time.sleep(3600)
        return self.linear(x.flatten(1))

def network(n, c, h, w):
    return Net(n, c, h, w)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not sandbox.available():
        skip_or_fail(f"no sandbox on this machine: {sandbox.unavailable_reason()}")
    jobs_dir = tmp_path_factory.mktemp("sandbox") / "jobs"
    data_roots_of(jobs_dir).mkdir(parents=True)
    # The key kept in the jobs folder, as a default install keeps it; checks time out fast.
    env = {"DIGITS_SECRET_KEY": None, "DIGITS_NETWORK_CHECK_SECONDS": "8"}
    running = Server(jobs_dir, env=env)
    running.data = data_roots_of(jobs_dir)
    yield running
    running.discard()


@pytest.fixture(scope="module")
def dataset(server) -> str:
    folder = make_class_folders(server.data / "colors", per_class=10, size=(28, 28))
    job_id = api.build_dataset(server, folder, "colors")
    assert finished(server, job_id)["status"] == "Done"
    return job_id


def train_custom(server, dataset, code: str, name: str) -> str:
    job_id = api.train(
        server,
        dataset,
        method="custom",
        custom_network=code,
        train_epochs="1",
        batch_size="4",
        model_name=name,
    )
    job = finished(server, job_id)
    assert job["status"] == "Done", job
    return job_id


def classify(server, model: str, image) -> requests.Response:
    with open(image, "rb") as f:
        return requests.post(
            server.url + CLASSIFY,
            data={"job_id": model, "username": "fred"},
            files={"image_file": ("x.png", f, "image/png")},
            timeout=120,
        )


def test_visualize_cannot_hand_back_the_key(server):
    key = (server.jobs_dir / ".secret_key").read_text().strip()
    code = (
        "import os\nraise ValueError(open(os.environ['DIGITS_JOBS_DIR'] + '/.secret_key').read())\n"
    )
    answer = requests.post(
        server.url + VISUALIZE, data={"custom_network": code, "username": "fred"}
    )
    assert answer.status_code == 400
    assert "No such file" in answer.text and key not in answer.text


def test_training_code_sees_only_its_own_job_and_inputs(server, dataset):
    code = SNOOPING_NETWORK.replace("DATASET", repr(dataset)).replace("PORT", str(server.port))
    model = train_custom(server, dataset, code, "snooping")
    seen = json.loads((server.jobs_dir / model / "seen.json").read_text())
    assert seen["key"] is None
    assert set(seen["jobs"]) == {model, dataset}  # no key, accounts, broker, other jobs
    assert not seen["wrote_dataset"] and not (server.jobs_dir / dataset / "planted").exists()
    assert not seen["server_reached"]
    assert len(seen["processes"]) < 10  # its own few, not the server's or the workers'
    assert "DIGITS_SECRET_KEY" not in seen["environ"]


def test_a_model_code_cannot_change_other_models_answers(server, dataset):
    image = next((server.data / "colors" / "red").iterdir())
    honest = api.train(server, dataset, train_epochs="1", batch_size="4", model_name="honest")
    assert finished(server, honest)["status"] == "Done"
    tampering = train_custom(server, dataset, TAMPERING_NETWORK, "tampering")

    own = classify(server, tampering, image)  # its own answers are its own business
    assert own.status_code == 200, own.text
    answer = classify(server, honest, image)
    assert answer.status_code == 200, answer.text
    assert "TAMPERED" not in json.dumps(answer.json()["predictions"])
    assert classify(server, tampering, image).json()["predictions"][0][0] == "TAMPERED"


def test_a_hanging_model_is_stopped_and_others_are_still_served(server, dataset):
    image = next((server.data / "colors" / "green").iterdir())
    hanging = train_custom(server, dataset, HANGING_NETWORK, "hanging")
    honest = api.train(server, dataset, train_epochs="1", batch_size="4", model_name="other")
    assert finished(server, honest)["status"] == "Done"

    started = time.monotonic()
    answer = classify(server, hanging, image)
    assert answer.status_code == 400
    assert "longer than 8 s" in answer.text
    assert time.monotonic() - started < 60
    assert classify(server, honest, image).status_code == 200


# Plants links in its own folder for the web process to follow.
PLANTING_NETWORK = """
import os, sys
jobs = os.environ["DIGITS_JOBS_DIR"]
if os.path.isdir(jobs):
    own = os.path.join(jobs, sys.argv[-1])
    os.makedirs(os.path.join(own, "exports", "v2", "epoch_1"))
    os.symlink("/proc/self/environ", os.path.join(own, "exports", "v2", "epoch_1", "environ.txt"))
    os.symlink(OUTSIDE, os.path.join(own, "outside.txt"))
    # The worker appends its figures to this file every second while the training runs.
    usage = os.path.join(own, "usage.jsonl")
    if os.path.exists(usage):
        os.remove(usage)
    os.symlink(OUTSIDE, usage)
    import time
    time.sleep(2)

def network(n, c, h, w):
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, n))
"""


def test_the_web_follows_no_link_that_job_code_planted(server, dataset, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("a file of the server's")
    code = PLANTING_NETWORK.replace("OUTSIDE", repr(str(outside)))
    model = train_custom(server, dataset, code, "planting")
    assert requests.get(f"{server.url}/files/{model}/outside.txt").status_code == 404
    assert outside.read_text() == "a file of the server's"  # and nothing was appended to it

    download = requests.get(f"{server.url}/models/{model}/download.zip?epoch=1")
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert "environ.txt" not in archive.namelist()
        assert not any(b"DIGITS_JOBS_DIR" in archive.read(name) for name in archive.namelist())

    # A hard link to a file outside is no job file either.
    os.link(outside, server.jobs_dir / model / "hard.txt")
    assert requests.get(f"{server.url}/files/{model}/hard.txt").status_code == 404
    assert requests.get(f"{server.url}/files/{model}/job.json").status_code == 200


# Trains slowly (half a second a batch), so that a test can act while it runs.
SLOW_NETWORK = """
import os, time

class Slow(nn.Module):
    def __init__(self, n, c, h, w):
        super().__init__()
        self.linear = nn.Linear(c * h * w, n)

    def forward(self, x):
        if self.training and os.path.isdir(os.environ["DIGITS_JOBS_DIR"]):
            time.sleep(0.5)
        return self.linear(x.flatten(1))

def network(n, c, h, w):
    return Slow(n, c, h, w)
"""

# Replaces folders and files that the server writes into with links to places of its choosing.
LINKING_NETWORK = (
    """
import os, sys
jobs = os.environ["DIGITS_JOBS_DIR"]
if os.path.isdir(jobs):
    own = os.path.join(jobs, sys.argv[-1])
    os.symlink(jobs, os.path.join(own, "exports"))  # the download's export would write there
    os.symlink(TARGET, os.path.join(own, "abort"))  # Abort would write its reason there
"""
    + SLOW_NETWORK
)


def test_the_server_writes_through_no_link_that_job_code_planted(server, dataset, tmp_path):
    target = tmp_path / "written-by-the-server"
    code = LINKING_NETWORK.replace("TARGET", repr(str(target)))
    model = api.train(
        server,
        dataset,
        method="custom",
        custom_network=code,
        train_epochs="2",
        batch_size="2",
        model_name="linking",
    )
    folder = server.jobs_dir / model
    wait_until(lambda: (folder / "snapshot_epoch_1.pt").exists(), 120)
    assert requests.post(f"{server.url}/models/{model}/abort", data={"username": "fred"}).ok
    assert finished(server, model)["status"] == "Aborted"
    assert not target.exists()  # the reason went into a file of the job's, not through the link

    download = requests.get(f"{server.url}/models/{model}/download.zip")
    assert download.status_code in (400, 404)
    assert not list(server.jobs_dir.glob("epoch_*"))  # nothing exported into the jobs folder


def test_a_two_rank_training_listens_only_inside_its_sandbox(server, dataset):
    """torchrun's rendezvous (which unpickles what it receives) listened on every interface."""
    model = api.train(
        server,
        dataset,
        method="custom",
        custom_network=SLOW_NETWORK,
        train_epochs="1",
        batch_size="4",
        select_gpu_count="2",
        model_name="two ranks",
    )

    def launcher() -> int | None:
        """torchrun itself: not the sandbox's own process nor the guard that starts it, whose
        command lines hold torchrun's."""
        for pid in processes_named(b"torch.distributed.run", model.encode()):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"digits.jobs.guard" not in command and not command[0].endswith(b"bwrap"):
                return pid
        return None

    pid = wait_until(launcher, 60)
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    assert finished(server, model)["status"] == "Done"


def test_classify_many_with_a_model_of_user_code_runs_in_its_sandbox(server, dataset):
    code = SNOOPING_NETWORK.replace("DATASET", repr(dataset)).replace("PORT", str(server.port))
    model = train_custom(server, dataset, code, "snooping again")
    images = sorted((server.data / "colors").glob("*/*.png"))[:4]
    response = requests.post(
        server.url + "/models/images/classification/classify_many.json",
        data={"job_id": model, "username": "fred"},
        files={"image_list": ("list.txt", "\n".join(str(p) for p in images))},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["classifications"]) == 4  # it classified the listed images
    [run] = [  # the Classify Many job's own folder, where its code could write
        folder
        for folder in server.jobs_dir.iterdir()
        if (folder / "seen.json").exists()
        and '"image-classification-inference"' in ((folder / "job.json").read_text())
    ]
    seen = json.loads((run / "seen.json").read_text())
    assert seen["key"] is None and not seen["server_reached"]
    assert set(seen["jobs"]) == {run.name, model, dataset}
